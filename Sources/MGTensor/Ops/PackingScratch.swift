import Foundation

/// Large scratch buffers for packed AMX operands, kept between products.
///
/// A decoder's prefill packs activations of the same few sizes in every layer (megabytes each).
/// Fresh allocations of that size are fresh `mmap`s, and the first write to each page faults
/// (about a tenth of a prefill went to page faults); buffers returned here are handed to the next
/// request that fits, already mapped. At most ``capacity`` buffers and ``byteLimit`` bytes are
/// kept; the rest are freed as usual. Large ones are backed by huge pages (``HugePageBuffers``).
enum PackingScratch {
    static let capacity = 4
    static let byteLimit = 192 << 20

    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let byteCount: Int
    }
    // NSLock rather than `Mutex`, which ThreadSanitizer does not see on Linux (see `BLASThreads`).
    private static let lock = NSLock()
    nonisolated(unsafe) private static var kept: [Buffer] = []

    /// Runs `body` with at least `byteCount` bytes of 64-byte aligned, uninitialised memory that is
    /// valid only during the call.
    static func withBuffer<R>(byteCount: Int, _ body: (UnsafeMutableRawPointer) -> R) -> R {
        let size = max(byteCount, 64)
        let reused = lock.withLock { () -> Buffer? in
            // The smallest kept buffer that fits, so a small request does not hold a large one.
            guard let index = kept.indices.filter({ kept[$0].byteCount >= size })
                .min(by: { kept[$0].byteCount < kept[$1].byteCount })
            else { return nil }
            return kept.remove(at: index)
        }
        let buffer = reused ?? {
            let (pointer, allocated) = HugePageBuffers.system.allocate(byteCount: size)
            return Buffer(pointer: pointer, byteCount: allocated)
        }()
        defer { giveBack(buffer) }
        return body(buffer.pointer)
    }

    private static func giveBack(_ buffer: Buffer) {
        let evicted = lock.withLock { () -> [Buffer] in
            kept.append(buffer)
            var evicted: [Buffer] = []
            // Drop the smallest first: the large buffers are the expensive ones to fault in again.
            while kept.count > capacity || kept.reduce(0, { $0 + $1.byteCount }) > byteLimit {
                guard let index = kept.indices.min(by: { kept[$0].byteCount < kept[$1].byteCount }) else { break }
                evicted.append(kept.remove(at: index))
            }
            return evicted
        }
        for buffer in evicted { HugePageBuffers.system.deallocate(buffer.pointer, byteCount: buffer.byteCount) }
    }
}
