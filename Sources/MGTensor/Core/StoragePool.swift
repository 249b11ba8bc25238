import Foundation

/// Large tensor allocations kept for reuse after their tensors are freed.
///
/// A forward pass allocates the same few large sizes in every layer (activations of megabytes to
/// hundreds of megabytes). glibc serves allocations above its mmap threshold (at most 32 MB) with a
/// fresh `mmap` and returns them with `munmap`, so every call paid one page fault per 4 KB written
/// into its output (measured ~2.9 µs each on the benchmark VM: 7 % of a 600×2048×2048 linear, 13 %
/// of the vocabulary projection). Buffers kept here are already mapped.
///
/// The pool never raises peak memory: when a request finds no kept buffer that fits, every kept
/// buffer is freed before the new allocation, so the resident total is at most what the tensors in
/// use needed at some earlier moment (plus the rounding of each buffer to whole huge pages, see
/// ``HugePageBuffers``). `MG_STORAGE_POOL=0` turns the pool off (for comparisons).
final class StoragePool: @unchecked Sendable {
    /// The pool of every ``TensorStorage``.
    static let shared = StoragePool(
        enabled: ProcessInfo.processInfo.environment["MG_STORAGE_POOL"] != "0", buffers: .system)

    /// Smaller allocations stay with malloc, which reuses them itself.
    let minimumBytes: Int
    /// Upper bound on the bytes kept while no tensor uses them.
    let byteLimit: Int
    /// Upper bound on the number of kept buffers.
    let capacity: Int
    /// A kept buffer serves a request of at least this fraction of its size, so a small tensor
    /// does not hold a large buffer.
    let smallestFill = 0.5
    let enabled: Bool
    /// Where new buffers come from and go back to (huge pages for the large ones, or malloc).
    let buffers: HugePageBuffers

    init(
        enabled: Bool, minimumBytes: Int = 1 << 20, byteLimit: Int = 512 << 20, capacity: Int = 16,
        buffers: HugePageBuffers = .plain
    ) {
        self.enabled = enabled
        self.buffers = buffers
        self.minimumBytes = minimumBytes
        self.byteLimit = byteLimit
        self.capacity = capacity
    }

    deinit {
        for buffer in kept { buffers.deallocate(buffer.pointer, byteCount: buffer.byteCount) }
    }

    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let byteCount: Int
    }
    // NSLock rather than `Mutex`, which ThreadSanitizer does not see on Linux (see `BLASThreads`).
    private let lock = NSLock()
    private var kept: [Buffer] = []

    /// Bytes kept for reuse right now.
    var keptBytes: Int { lock.withLock { kept.reduce(0) { $0 + $1.byteCount } } }

    /// 64-byte aligned (huge-page aligned when large), uninitialised memory of at least `byteCount` bytes and its actual size
    /// (to pass back to ``recycle(_:byteCount:)``).
    func allocate(byteCount: Int) -> (pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 1)
        guard enabled, size >= minimumBytes else { return buffers.allocate(byteCount: size) }
        let (hit, flushed) = lock.withLock { () -> (Buffer?, [Buffer]) in
            let fitting = kept.indices.filter { kept[$0].byteCount >= size && Double(size) >= smallestFill * Double(kept[$0].byteCount) }
            if let index = fitting.min(by: { kept[$0].byteCount < kept[$1].byteCount }) {
                return (kept.remove(at: index), [])
            }
            defer { kept.removeAll() }
            return (nil, kept)
        }
        for buffer in flushed { buffers.deallocate(buffer.pointer, byteCount: buffer.byteCount) }
        if let hit { return (hit.pointer, hit.byteCount) }
        return buffers.allocate(byteCount: size)
    }

    /// Takes back memory from ``allocate(byteCount:)``: kept while within the limits, freed otherwise.
    func recycle(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        guard enabled, byteCount >= minimumBytes, byteCount <= byteLimit else {
            buffers.deallocate(pointer, byteCount: byteCount)
            return
        }
        let evicted = lock.withLock { () -> [Buffer] in
            kept.append(Buffer(pointer: pointer, byteCount: byteCount))
            var evicted: [Buffer] = []
            // The oldest go first: the sizes of the current pass are the ones about to recur.
            while kept.count > capacity || kept.reduce(0, { $0 + $1.byteCount }) > byteLimit {
                evicted.append(kept.removeFirst())
            }
            return evicted
        }
        for buffer in evicted { buffers.deallocate(buffer.pointer, byteCount: buffer.byteCount) }
    }
}
