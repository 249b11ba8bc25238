import Foundation

/// A `.safetensors` file, memory-mapped. Tensors are zero-copy views in their stored dtype.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// let weight = try file.tensor(named: "model.embed_tokens.weight")  // BF16, mapped
/// ```
public final class SafetensorsFile: Sendable {
    /// Where a tensor's bytes lie in the file.
    public struct Entry: Sendable, Equatable {
        public let dtype: DType
        public let shape: [Int]
        /// Byte range relative to the start of the data section.
        public let dataRange: Range<Int>
    }

    /// The path the file was opened from.
    public var path: String { file.path }
    /// Tensor entries by name.
    public let entries: [String: Entry]
    /// The free-form `__metadata__` strings.
    public let metadata: [String: String]

    private let file: MappedFile
    private let dataStart: Int

    /// Opens and validates the file at `path`.
    public init(path: String) throws(CheckpointError) {
        file = try MappedFile(path: path)
        let bytes = file.bytes(0..<file.byteCount)
        guard bytes.count >= 8 else { throw .ioFailure(path: path, reason: "file shorter than the 8-byte header length") }
        var headerLength: UInt64 = 0
        for index in 0..<8 { headerLength |= UInt64(bytes[index]) << (8 * UInt64(index)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .ioFailure(path: path, reason: "header length \(headerLength) past the end of the file")
        }
        dataStart = 8 + Int(headerLength)
        let header = Data(bytes[8..<dataStart])
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw .ioFailure(path: path, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let dtype = DType(rawValue: dtypeName), let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw .ioFailure(path: path, reason: "bad entry \(name)") }
            entries[name] = Entry(dtype: dtype, shape: shape, dataRange: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// The tensor `name` as a zero-copy view of the mapped file.
    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let entry = entries[name] else { throw .ioFailure(path: path, reason: "no tensor \(name)") }
        let range = (dataStart + entry.dataRange.lowerBound)..<(dataStart + entry.dataRange.upperBound)
        let bytes = file.bytes(range)
        let count = Shape.elementCount(entry.shape) ?? 0
        let storage = TensorStorage(
            borrowing: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!, byteCount: bytes.count,
            dtype: entry.dtype, owner: file)
        return Tensor(shape: entry.shape, count: count, storage: storage)
    }
}
