import Foundation
@testable import MGTensor
import Synchronization
import Testing

@Suite("Kept float scratch")
struct FloatScratchTests {
    @Test func nestedBuffersAreDistinctAndLargeEnough() {
        FloatScratch.withBuffer(count: 1000) { outer in
            outer.update(repeating: 1, count: 1000)
            FloatScratch.withBuffer(count: 5000) { inner in
                inner.update(repeating: 2, count: 5000)
                #expect(inner != outer)
            }
            // The inner buffer did not overlap the outer one.
            #expect((0..<1000).allSatisfy { outer[$0] == 1 })
            #expect(Int(bitPattern: outer) % 64 == 0)
        }
    }

    /// Concurrent chunks each hold a buffer of their own while they fill and check it.
    @Test func concurrentChunksNeverShareABuffer() {
        let failures = Atomic(0)
        Parallel.forEachChunk(count: 64, minimumChunk: 1) { range in
            for index in range {
                FloatScratch.withBuffer(count: 256 + index) { buffer in
                    let mark = Float(index)
                    buffer.update(repeating: mark, count: 256 + index)
                    for _ in 0..<100 where !(0..<(256 + index)).allSatisfy({ buffer[$0] == mark }) {
                        failures.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
