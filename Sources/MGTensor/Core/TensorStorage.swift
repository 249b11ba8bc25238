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

    /// Allocates `byteCount` uninitialised bytes.
    init(allocating byteCount: Int, dtype: DType) {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        self.base = UnsafeRawPointer(pointer)
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
    }

    deinit {
        if isOwned { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }

    /// Writable pointer; only for owned storage that the caller holds uniquely.
    var mutableBase: UnsafeMutableRawPointer {
        precondition(isOwned, "borrowed storage is read-only")
        return UnsafeMutableRawPointer(mutating: base)
    }

    /// Whether the bytes live in a memory-mapped file rather than on the heap.
    public var isMemoryMapped: Bool { !isOwned && keepAlive is MappedFile }

    /// A copy of the bytes in a new owned allocation.
    func copy() -> TensorStorage {
        let storage = TensorStorage(allocating: byteCount, dtype: dtype)
        storage.mutableBase.copyMemory(from: base, byteCount: byteCount)
        return storage
    }
}
