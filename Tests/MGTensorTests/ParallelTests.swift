import Dispatch
@testable import MGTensor
import Foundation
import MGTestSupport
import Testing

@Suite("Parallel chunks")
struct ParallelTests {
    /// Counts how often each index was visited (every index must be visited exactly once), under
    /// an `NSLock`: ThreadSanitizer sees it, while the standard library's `Mutex` it does not, on Linux.
    private final class Visits: @unchecked Sendable {
        private let lock = NSLock()
        private var counts: [Int]
        init(_ count: Int) { counts = [Int](repeating: 0, count: count) }
        func visit(_ range: Range<Int>) { lock.withLock { for index in range { counts[index] += 1 } } }
        var all: [Int] { lock.withLock { counts } }
    }

    @Test(arguments: [(1, 1), (2, 1), (7, 1), (1000, 1), (1000, 300), (1000, 2000), (100_003, 64)])
    func everyIndexOnce(count: Int, minimumChunk: Int) {
        let visits = Visits(count)
        Parallel.forEachChunk(count: count, minimumChunk: minimumChunk) { visits.visit($0) }
        #expect(visits.all == [Int](repeating: 1, count: count))
    }

    @Test(arguments: [(1, 1), (2, 1), (32, 1), (33, 1), (1000, 300), (100_003, 64)], [0, 1, 2])
    func taperedChunksOfAnyFractionVisitEveryIndexOnce(size: (count: Int, minimumChunk: Int), fraction: Int) {
        let (count, minimumChunk) = size
        let visits = Visits(count)
        Parallel.forEachTaperedChunk(count: count, minimumChunk: minimumChunk, fraction: fraction) { visits.visit($0) }
        #expect(visits.all == [Int](repeating: 1, count: count))
    }

    @Test(arguments: [(1, 1), (2, 1), (7, 1), (1000, 1), (1000, 300), (1000, 2000), (100_003, 64), (11008, 64)])
    func taperedChunksVisitEveryIndexOnce(count: Int, minimumChunk: Int) {
        let visits = Visits(count)
        Parallel.forEachTaperedChunk(count: count, minimumChunk: minimumChunk) { visits.visit($0) }
        #expect(visits.all == [Int](repeating: 1, count: count))
    }

    /// Tapered chunks shrink towards the end and never go below the minimum (but the last one).
    @Test func taperedChunksShrink() {
        let lock = NSLock()
        nonisolated(unsafe) var chunks: [Range<Int>] = []
        Parallel.forEachTaperedChunk(count: 11008, minimumChunk: 64) { range in lock.withLock { chunks.append(range) } }
        let sorted = lock.withLock { chunks }.sorted { $0.lowerBound < $1.lowerBound }
        if Parallel.threadCount > 1 {
            #expect(sorted.count > 8)
            #expect(sorted.first!.count >= sorted.last!.count)
            #expect(sorted.dropLast().allSatisfy { $0.count >= 64 })
            #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.count >= $1.count })
        } else {
            #expect(sorted == [0..<11008])
        }
    }

    @Test func nestedAndConcurrentCallers() {
        let outer = 8, inner = 5000
        let visits = Visits(outer * inner)
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            Parallel.forEachChunk(count: outer, minimumChunk: 1) { rows in
                for row in rows where row % 4 == caller {
                    Parallel.forEachChunk(count: inner, minimumChunk: 16) { range in
                        visits.visit((row * inner + range.lowerBound)..<(row * inner + range.upperBound))
                    }
                }
            }
        }
        #expect(visits.all == [Int](repeating: 1, count: outer * inner))
    }

    /// The property that keeps a busy machine from stalling every small op: helpers that never get
    /// to run (here: their queue is suspended) are not waited for; the caller runs every chunk.
    @Test(.timeLimit(.minutes(1))) func callerFinishesWithoutHelpers() {
        let queue = DispatchQueue(label: "suspended helpers", attributes: .concurrent)
        queue.suspend()
        let visits = Visits(64)
        withoutActuallyEscaping({ (range: Range<Int>) in visits.visit(range) }) { body in
            ParallelRegion(count: 64, chunkSize: 4, body: body).run(helperCount: 3, on: queue)
        }
        #expect(visits.all == [Int](repeating: 1, count: 64))
        // Late helpers find no chunk left and return without touching the finished call's closure.
        queue.resume()
        queue.sync(flags: .barrier) {}
        #expect(visits.all == [Int](repeating: 1, count: 64))
    }

    /// BF16 products on the packed path (AMX or AVX-512 BF16) from four threads at once share the packing scratch pool;
    /// each must equal the same product computed alone, bit for bit.
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil)) func concurrentAMXProductsShareScratch() throws {
        let weight = try DeterministicData.tensor(seed: 760, shape: [300, 320]).converted(to: .bf16)
        let inputs = try (0..<4).map { try DeterministicData.tensor(seed: 761 + UInt64($0), shape: [80, 320]) }
        let alone = try inputs.map { try linear($0, weight: weight).floats() }
        var together = [[Float]](repeating: [], count: 4)
        together.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            // Each iteration writes only its own slot; repeated so the threads overlap in the pool.
            DispatchQueue.concurrentPerform(iterations: 4) { index in
                for _ in 0..<10 { slots[index] = (try? linear(inputs[index], weight: weight).floats()) ?? [] }
            }
        }
        #expect(together == alone)
    }
}
