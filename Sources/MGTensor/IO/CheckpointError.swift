/// Errors reading or writing checkpoint files.
///
/// Every way a file can be malformed maps to its own case, which names the file and, where it
/// applies, the tensor and the byte offsets involved. Offsets in ``SafetensorsFile`` errors are
/// relative to the start of the data section, as in the file's header.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    // MARK: Files

    /// The file or directory does not exist.
    case fileNotFound(path: String)
    /// An operating-system call failed (open, stat, mmap, write, rename).
    case ioFailure(path: String, reason: String)

    // MARK: Safetensors header

    /// The file is shorter than the 8-byte little-endian header length.
    case fileTooShort(path: String, byteCount: Int)
    /// The header length points past the end of the file (a truncated file).
    case headerPastEndOfFile(path: String, headerLength: UInt64, fileSize: Int)
    /// The header length exceeds the reader's `maximumHeaderBytes`.
    case headerTooLarge(path: String, headerLength: UInt64, limit: Int)
    /// The header is not valid UTF-8; `offset` is the first bad byte, counted from the header start.
    case headerNotUTF8(path: String, offset: Int)
    /// The header (or an index file) is not well-formed JSON.
    case invalidJSON(path: String, reason: String, offset: Int)
    /// The header is valid JSON but not an object.
    case headerNotObject(path: String)
    /// The same tensor name appears twice in the header.
    case duplicateTensorName(path: String, tensor: String)
    /// A tensor's header entry is not a JSON object.
    case entryNotObject(path: String, tensor: String)
    /// A tensor's header entry lacks `dtype`, `shape` or `data_offsets`.
    case missingField(path: String, tensor: String, field: String)
    /// A field of a tensor's header entry has the wrong JSON type or form.
    case invalidField(path: String, tensor: String, field: String, expected: String)
    /// A dtype name that safetensors does not define.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A negative dimension, or an element count (times the dtype size) that overflows `Int`.
    case invalidShape(path: String, tensor: String, shape: [Int])
    /// The shape and dtype need `expectedBytes`, but `data_offsets` span a different length.
    case byteLengthMismatch(path: String, tensor: String, expectedBytes: Int, begin: Int, end: Int)
    /// `data_offsets` are negative or reversed.
    case invalidOffsets(path: String, tensor: String, begin: Int, end: Int)
    /// `data_offsets` end past the data section (`dataSize` bytes).
    case offsetsOutOfRange(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    /// Two tensors share bytes; `offset` is where the second one starts.
    case overlappingTensors(path: String, tensor: String, other: String, offset: Int)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(path: String, key: String, reason: String)

    // MARK: Lookup

    /// No tensor of that name in the checkpoint.
    case tensorNotFound(path: String, tensor: String)

    // MARK: Sharded checkpoints

    /// A directory holds neither an index file nor `model.safetensors`.
    case noCheckpoint(path: String)
    /// An index file is JSON but not of the `{"weight_map": {name: shard}}` form.
    case invalidIndex(path: String, reason: String)
    /// A shard named by the index does not exist.
    case shardNotFound(index: String, shard: String)
    /// The index assigns a tensor to a shard whose header does not list it.
    case tensorMissingFromShard(shard: String, tensor: String)
    /// A tensor is stored in (or assigned to) two different shards.
    case duplicateTensor(tensor: String, first: String, second: String)

    // MARK: Writing

    /// A tensor name the format reserves (`__metadata__`).
    case invalidTensorName(path: String, tensor: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): "\(path): no such file"
        case .ioFailure(let path, let reason): "\(path): \(reason)"
        case .fileTooShort(let path, let count): "\(path): \(count) bytes, shorter than the 8-byte header length"
        case .headerPastEndOfFile(let path, let length, let size):
            "\(path): header length \(length) runs past the end of the \(size)-byte file (truncated?)"
        case .headerTooLarge(let path, let length, let limit): "\(path): header length \(length) exceeds the limit of \(limit) bytes"
        case .headerNotUTF8(let path, let offset): "\(path): header is not UTF-8 (byte \(offset))"
        case .invalidJSON(let path, let reason, let offset): "\(path): invalid JSON at byte \(offset): \(reason)"
        case .headerNotObject(let path): "\(path): header is not a JSON object"
        case .duplicateTensorName(let path, let tensor): "\(path): tensor \(tensor) appears twice in the header"
        case .entryNotObject(let path, let tensor): "\(path): entry of \(tensor) is not an object"
        case .missingField(let path, let tensor, let field): "\(path): entry of \(tensor) has no \(field)"
        case .invalidField(let path, let tensor, let field, let expected): "\(path): \(field) of \(tensor) is not \(expected)"
        case .unknownDType(let path, let tensor, let dtype): "\(path): tensor \(tensor) has unknown dtype \(dtype)"
        case .invalidShape(let path, let tensor, let shape): "\(path): tensor \(tensor) has invalid shape \(shape)"
        case .byteLengthMismatch(let path, let tensor, let expected, let begin, let end):
            "\(path): tensor \(tensor) needs \(expected) bytes but data_offsets [\(begin), \(end)] span \(end - begin)"
        case .invalidOffsets(let path, let tensor, let begin, let end): "\(path): tensor \(tensor) has invalid data_offsets [\(begin), \(end)]"
        case .offsetsOutOfRange(let path, let tensor, let begin, let end, let size):
            "\(path): data_offsets [\(begin), \(end)] of \(tensor) run past the \(size)-byte data section"
        case .overlappingTensors(let path, let tensor, let other, let offset):
            "\(path): tensor \(tensor) at byte \(offset) overlaps \(other)"
        case .invalidMetadata(let path, let key, let reason): "\(path): metadata \(key): \(reason)"
        case .tensorNotFound(let path, let tensor): "\(path): no tensor \(tensor)"
        case .noCheckpoint(let path): "\(path): no model.safetensors or *.safetensors.index.json"
        case .invalidIndex(let path, let reason): "\(path): \(reason)"
        case .shardNotFound(let index, let shard): "\(index): shard \(shard) does not exist"
        case .tensorMissingFromShard(let shard, let tensor): "\(shard): tensor \(tensor) listed in the index is missing"
        case .duplicateTensor(let tensor, let first, let second): "tensor \(tensor) is in both \(first) and \(second)"
        case .invalidTensorName(let path, let tensor): "\(path): \(tensor) is not a valid tensor name"
        }
    }
}
