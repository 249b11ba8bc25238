/// The bytes behind a tensor: an owned, 64-byte aligned allocation, or a read-only region of a
/// memory-mapped checkpoint file kept in its stored dtype.
///
/// Storage is immutable once shared; ``Tensor`` copies it before writing when it is not uniquely
/// referenced, so tensors keep value semantics.
public final class TensorStorage: @unchecked Sendable {
    /// The element type of the bytes.
    public let dtype: DType
    /// Number of bytes.
    public let byteCount: Int
    /// Start of the bytes.
    let base: UnsafeRawPointer
    /// Whether the bytes belong to this object (and may therefore be written when unique).
    let isOwned: Bool
    /// Keeps the owner of borrowed bytes (a mapped file, a parent storage) alive.
    private let keepAlive: AnyObject?
    /// Bytes actually allocated for owned storage (a reused buffer may be larger than `byteCount`).
    private let allocatedBytes: Int

    /// Allocates `byteCount` uninitialised bytes.
    init(allocating byteCount: Int, dtype: DType) {
        let (pointer, allocated) = StoragePool.shared.allocate(byteCount: byteCount)
        self.base = UnsafeRawPointer(pointer)
        self.allocatedBytes = allocated
        self.byteCount = byteCount
        self.dtype = dtype
        self.isOwned = true
        self.keepAlive = nil
    }

    /// Borrows `byteCount` bytes at `base`, kept valid by `owner` (a mapped file or another storage).
    init(borrowing base: UnsafeRawPointer, byteCount: Int, dtype: DType, owner: AnyObject) {
        self.base = base
        self.byteCount = byteCount
        self.dtype = dtype
        self.isOwned = false
        self.keepAlive = owner
        self.allocatedBytes = 0
    }

    deinit {
        if isOwned { StoragePool.shared.recycle(UnsafeMutableRawPointer(mutating: base), byteCount: allocatedBytes) }
    }

    /// Writable pointer; only for owned storage that the caller holds uniquely.
    var mutableBase: UnsafeMutableRawPointer {
        precondition(isOwned, "borrowed storage is read-only")
        return UnsafeMutableRawPointer(mutating: base)
    }

    /// Whether the bytes live in a memory-mapped file rather than on the heap.
    public var isMemoryMapped: Bool { !isOwned && keepAlive is MappedFile }

    /// Drops the pages of a memory-mapped storage from the process's resident set (the page cache
    /// keeps them; reading them again faults them back in); nothing for heap storage. For a loader
    /// that has copied a mapped weight into another layout (concatenated, folded, reordered) and
    /// will not read the mapping again, so those bytes are not resident twice.
    package func releaseResidentPages() {
        guard !isOwned, let file = keepAlive as? MappedFile, let start = file.base else { return }
        let offset = start.distance(to: base)
        file.releaseResidentPages(offset..<offset + byteCount)
    }

    /// A copy of the bytes in a new owned allocation.
    func copy() -> TensorStorage {
        let storage = TensorStorage(allocating: byteCount, dtype: dtype)
        storage.mutableBase.copyMemory(from: base, byteCount: byteCount)
        return storage
    }
}
