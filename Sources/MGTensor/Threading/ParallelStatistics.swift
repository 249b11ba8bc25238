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
        package init() {}
    }

    private static let buckets = Mutex<[Int: Bucket]>([:])

    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    static func record(count: Int, wall: Int, handOff: Int?, callerWait: Int) {
        buckets.withLock { buckets in
            var bucket = buckets[count, default: Bucket()]
            bucket.regions += 1
            bucket.wallNanoseconds += wall
            if let handOff {
                bucket.joined += 1
                bucket.handOffNanoseconds += handOff
            }
            bucket.callerWaitNanoseconds += callerWait
            buckets[count] = bucket
        }
    }

    /// The buckets gathered since the last call, keyed by item count; clears them.
    package static func take() -> [Int: Bucket] {
        buckets.withLock { buckets in
            defer { buckets = [:] }
            return buckets
        }
    }
}
