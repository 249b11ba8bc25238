import Foundation
import Synchronization

/// Where the wall time of parallel regions goes, for the decode-step breakdown of the GGUF
/// benchmark (`MG_PARALLEL_STATS=1`; off otherwise, when it costs one load per region).
///
/// Per region: its wall time from the call to the return, the delay until a helper thread claimed
/// its first chunk (the hand-off), and how long the calling thread waited for helpers after running
/// out of chunks. Regions are grouped by their item count (which tells a decoder's matrices apart).
package enum ParallelStatistics {
    package static let isEnabled = ProcessInfo.processInfo.environment["MG_PARALLEL_STATS"] == "1"

    package struct Bucket: Sendable {
        package var regions = 0
        package var wallNanoseconds = 0
        /// Regions a helper joined, and the summed delay from the call to its first chunk.
        package var joined = 0
        package var handOffNanoseconds = 0
        /// Summed time the caller waited for helpers after its last chunk.
        package var callerWaitNanoseconds = 0
        /// Summed serial time before the region: from the end of the previous region to this call.
        package var gapNanoseconds = 0
        package init() {}

        /// Adds another bucket's regions and times to this one.
        package mutating func add(_ other: Bucket) {
            regions += other.regions
            wallNanoseconds += other.wallNanoseconds
            joined += other.joined
            handOffNanoseconds += other.handOffNanoseconds
            callerWaitNanoseconds += other.callerWaitNanoseconds
            gapNanoseconds += other.gapNanoseconds
        }
    }

    private static let buckets = Mutex<[Int: Bucket]>([:])
    /// When the last recorded region returned (0 before the first, or after ``take()``).
    private static let lastEnd = Atomic<Int>(0)

    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    static func record(count: Int, start: Int, end: Int, handOff: Int?, callerWait: Int) {
        let wall = end - start
        let previous = lastEnd.exchange(end, ordering: .relaxed)
        var region = Bucket()
        region.gapNanoseconds = previous > 0 && previous <= start ? start - previous : 0
        region.regions = 1
        region.wallNanoseconds = wall
        region.joined = handOff == nil ? 0 : 1
        region.handOffNanoseconds = handOff ?? 0
        region.callerWaitNanoseconds = callerWait
        buckets.withLock { $0[count, default: Bucket()].add(region) }
    }

    /// The buckets gathered since the last call, keyed by item count; clears them.
    package static func take() -> [Int: Bucket] {
        lastEnd.store(0, ordering: .relaxed)
        return buckets.withLock { buckets in
            defer { buckets = [:] }
            return buckets
        }
    }
}
