import Foundation

/// Small F32 work buffers that stay allocated between calls, for kernels that need a few kilobytes
/// per thread on every call (the decode attention's scores, the parts of a position split).
///
/// A decode step calls the attention once per layer, dozens of times per token; allocating its
/// scratch each time cost a malloc/free pair per chunk and per call. Buffers taken here go back to a
/// short free list and are handed to the next request that fits; a request larger than every kept
/// buffer replaces the smallest by one of twice the size asked (so a cache that grows by one
/// position per step reallocates a logarithmic number of times). Taking and returning a buffer is a
/// lock and no allocation once the list holds enough buffers.
package enum FloatScratch {
    /// Buffers kept at most (two per thread of a two-level region, and the caller's own).
    static let capacity = 8

    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let count: Int
    }
    // NSLock rather than `Mutex`, which ThreadSanitizer does not see on Linux (see `BLASThreads`).
    private static let lock = NSLock()
    nonisolated(unsafe) private static var kept: [Buffer] = {
        var buffers: [Buffer] = []
        buffers.reserveCapacity(capacity + 1)
        return buffers
    }()

    /// Runs `body` with at least `count` uninitialised floats (64-byte aligned) that are valid only
    /// during the call and used by no one else meanwhile.
    package static func withBuffer<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let size = max(count, 16)
        let taken = lock.withLock { () -> Buffer? in
            // The smallest kept buffer that fits, so a small request does not hold a large one.
            var best: Int?
            for index in kept.indices where kept[index].count >= size {
                if best.map({ kept[index].count < kept[$0].count }) ?? true { best = index }
            }
            return best.map { kept.swapAt($0, kept.count - 1); return kept.removeLast() }
        }
        let buffer = taken ?? {
            // Twice the size, at least 4096 floats: growth by a few positions per call reallocates rarely.
            let grown = max(2 * size, 4096)
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: grown * MemoryLayout<Float>.stride, alignment: 64)
            return Buffer(pointer: pointer.bindMemory(to: Float.self, capacity: grown), count: grown)
        }()
        defer { giveBack(buffer) }
        return try body(buffer.pointer)
    }

    private static func giveBack(_ buffer: Buffer) {
        let evicted = lock.withLock { () -> Buffer? in
            kept.append(buffer)
            guard kept.count > capacity, let index = kept.indices.min(by: { kept[$0].count < kept[$1].count }) else { return nil }
            kept.swapAt(index, kept.count - 1)
            return kept.removeLast()
        }
        evicted?.pointer.deallocate()
    }
}
