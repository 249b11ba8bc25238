import Foundation

/// A `.safetensors` file, memory-mapped and fully validated when opened.
///
/// Opening checks the header exhaustively (length, UTF-8, strict JSON with duplicate-key detection,
/// every entry's fields, dtype, shape, size and offsets, and that no two tensors overlap); each
/// problem is its own ``CheckpointError`` case, and malformed input never traps. Tensors are
/// zero-copy views of the mapping in their stored dtype: F16 and BF16 weights stay half precision
/// until an operation converts the part it needs.
///
/// ```swift
/// let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: "model.safetensors"))
/// let weight = try file.tensor(named: "model.embed_tokens.weight")  // BF16, mapped
/// ```
public final class SafetensorsFile: WeightStore {
    /// Where a tensor's bytes lie in the file, as its header entry describes them.
    public struct Entry: Sendable, Equatable {
        /// The stored element type.
        public let dtype: DType
        /// The dimensions, outermost first.
        public let shape: [Int]
        /// Byte range relative to the start of the data section (`data_offsets`).
        public let dataRange: Range<Int>
    }

    /// The default cap on the header length: 100 MiB, far above any real model's header.
    public static let defaultMaximumHeaderBytes = 100 << 20

    /// The path the file was opened from.
    public var path: String { file.path }
    /// Tensor entries by name.
    public let entries: [String: Entry]
    /// The free-form `__metadata__` strings (empty when the file has none).
    public let metadata: [String: String]
    /// Tensor names, sorted.
    public let names: [String]

    private let file: MappedFile
    /// File offset of the data section (8 + header length).
    private let dataStart: Int

    /// Maps and validates the file at `path`.
    /// - Parameters:
    ///   - url: a `.safetensors` file.
    ///   - maximumHeaderBytes: headers longer than this are rejected before anything is parsed.
    /// - Throws: a ``CheckpointError`` naming the first problem found.
    public init(contentsOf url: URL, maximumHeaderBytes: Int = SafetensorsFile.defaultMaximumHeaderBytes) throws(CheckpointError) {
        let path = url.path
        file = try MappedFile(contentsOf: url)
        let size = file.byteCount
        guard size >= 8 else { throw .fileTooShort(path: path, byteCount: size) }
        let prefix = file.bytes(0..<8)
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(prefix[index]) << (8 * UInt64(index)) }
        guard headerLength <= UInt64(max(maximumHeaderBytes, 0)) else {
            throw .headerTooLarge(path: path, headerLength: headerLength, limit: maximumHeaderBytes)
        }
        guard headerLength <= UInt64(size - 8) else {
            throw .headerPastEndOfFile(path: path, headerLength: headerLength, fileSize: size)
        }
        dataStart = 8 + Int(headerLength)
        let header = try SafetensorsHeader(
            bytes: file.bytes(8..<dataStart), dataSize: size - dataStart, path: path)
        entries = header.entries
        metadata = header.metadata
        names = header.entries.keys.sorted()
    }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { entries[name] != nil }

    /// The tensor `name` as a zero-copy view of the mapped file, in its stored dtype.
    ///
    /// The view keeps the mapping alive. Files from other writers can place a tensor at an offset
    /// that is not a multiple of its element size; such a tensor is copied to an aligned buffer
    /// instead, since typed loads from it would be undefined behaviour.
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)``.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let entry = entries[name] else { throw .tensorNotFound(path: path, tensor: name) }
        let range = (dataStart + entry.dataRange.lowerBound)..<(dataStart + entry.dataRange.upperBound)
        // The header check guaranteed the element count and byte length agree and do not overflow.
        let count = entry.dataRange.count / entry.dtype.byteSize
        let bytes = file.bytes(range)
        guard let base = bytes.baseAddress, Int(bitPattern: base) % entry.dtype.byteSize == 0 else {
            let storage = TensorStorage(allocating: bytes.count, dtype: entry.dtype)
            if let base = bytes.baseAddress { storage.mutableBase.copyMemory(from: base, byteCount: bytes.count) }
            return Tensor(shape: entry.shape, count: count, storage: storage)
        }
        let storage = TensorStorage(borrowing: base, byteCount: bytes.count, dtype: entry.dtype, owner: file)
        return Tensor(shape: entry.shape, count: count, storage: storage)
    }
}
