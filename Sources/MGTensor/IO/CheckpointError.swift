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

    // MARK: GGUF

    /// A malformed GGUF file; `problem` says what and where.
    case invalidGGUF(path: String, problem: GGUFProblem)

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

    // MARK: PyTorch checkpoints (.bin)

    /// The file is neither a zip archive nor a legacy `torch.save` stream.
    case unrecognizedTorchFormat(path: String)
    /// A directory holds no `pytorch_model.bin`, `open_clip_pytorch_model.bin` or single `*.bin`.
    case noTorchCheckpoint(path: String)
    /// No end-of-central-directory record: not a zip archive, or a truncated one.
    case archiveEndNotFound(path: String)
    /// A zip record (`record`) at `offset`, `length` bytes long, runs past `limit` (the end of the
    /// file, or of the region that must contain it).
    case archiveRecordOutOfRange(path: String, record: String, offset: Int, length: Int, limit: Int)
    /// A zip record has a wrong signature or an impossible field.
    case archiveInvalidRecord(path: String, record: String, offset: Int, reason: String)
    /// An entry's local header declares other sizes than the central directory.
    case archiveSizeMismatch(path: String, entry: String, centralSize: Int, localSize: Int)
    /// A zip feature the reader does not implement (compression, encryption, several disks).
    case archiveUnsupported(path: String, entry: String, reason: String)
    /// Two archive entries share one name.
    case archiveDuplicateEntry(path: String, entry: String)
    /// An entry the checkpoint needs (`*/data.pkl`, a storage) is not in the archive.
    case archiveMissingEntry(path: String, entry: String)
    /// The pickle names a global outside the state-dict allowlist; nothing was executed.
    case disallowedGlobal(path: String, module: String, name: String)
    /// The pickle uses an opcode the restricted unpickler does not accept.
    case unsupportedPickleOpcode(path: String, opcode: UInt8, offset: Int)
    /// The pickle is malformed (truncated, stack underflow, bad memo index, wrong argument types).
    case invalidPickle(path: String, offset: Int, reason: String)
    /// The pickle exceeds a resource cap (`limit` names it) of the restricted unpickler.
    case pickleLimitExceeded(path: String, limit: String, value: Int)
    /// The checkpoint stores big-endian (or unknown) data.
    case unsupportedByteOrder(path: String, byteOrder: String)
    /// A storage the pickle references is not stored in the file.
    case storageNotFound(path: String, storage: String)
    /// A storage's bytes do not match the size its record declares.
    case storageSizeMismatch(path: String, storage: String, expectedBytes: Int, actualBytes: Int)
    /// A tensor's offset, sizes and strides reach outside its storage (`storageBytes` long).
    case storageOutOfRange(path: String, tensor: String, storage: String, endByte: Int, storageBytes: Int)
    /// A tensor record's arguments are malformed (negative size or stride, unsupported dtype).
    case invalidTensorRecord(path: String, tensor: String, reason: String)
    /// The unpickled object is not a state dict this reader accepts.
    case unsupportedCheckpointContent(path: String, reason: String)

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
        case .invalidGGUF(let path, let problem): "\(path): \(problem)"
        case .tensorNotFound(let path, let tensor): "\(path): no tensor \(tensor)"
        case .noCheckpoint(let path): "\(path): no model.safetensors or *.safetensors.index.json"
        case .invalidIndex(let path, let reason): "\(path): \(reason)"
        case .shardNotFound(let index, let shard): "\(index): shard \(shard) does not exist"
        case .tensorMissingFromShard(let shard, let tensor): "\(shard): tensor \(tensor) listed in the index is missing"
        case .duplicateTensor(let tensor, let first, let second): "tensor \(tensor) is in both \(first) and \(second)"
        case .invalidTensorName(let path, let tensor): "\(path): \(tensor) is not a valid tensor name"
        case .unrecognizedTorchFormat(let path): "\(path): neither a zip archive nor a legacy torch.save file"
        case .noTorchCheckpoint(let path): "\(path): no pytorch_model.bin, open_clip_pytorch_model.bin or single *.bin file"
        case .archiveEndNotFound(let path): "\(path): no zip end-of-central-directory record (not a zip, or truncated)"
        case .archiveRecordOutOfRange(let path, let record, let offset, let length, let limit):
            "\(path): \(record) at byte \(offset) (\(length) bytes) runs past byte \(limit) (truncated?)"
        case .archiveInvalidRecord(let path, let record, let offset, let reason): "\(path): \(record) at byte \(offset): \(reason)"
        case .archiveSizeMismatch(let path, let entry, let central, let local):
            "\(path): entry \(entry) is \(central) bytes in the central directory but \(local) in its local header"
        case .archiveUnsupported(let path, let entry, let reason): "\(path): entry \(entry): \(reason)"
        case .archiveDuplicateEntry(let path, let entry): "\(path): entry \(entry) appears twice"
        case .archiveMissingEntry(let path, let entry): "\(path): no entry \(entry)"
        case .disallowedGlobal(let path, let module, let name):
            "\(path): the pickle references \(module).\(name), which a state dict never needs; refused without executing anything"
        case .unsupportedPickleOpcode(let path, let opcode, let offset):
            "\(path): unsupported pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset)"
        case .invalidPickle(let path, let offset, let reason): "\(path): malformed pickle at byte \(offset): \(reason)"
        case .pickleLimitExceeded(let path, let limit, let value): "\(path): pickle exceeds the \(limit) limit (\(value))"
        case .unsupportedByteOrder(let path, let order): "\(path): byte order \(order) is not supported (little-endian only)"
        case .storageNotFound(let path, let storage): "\(path): storage \(storage) is referenced but not stored"
        case .storageSizeMismatch(let path, let storage, let expected, let actual):
            "\(path): storage \(storage) should hold \(expected) bytes but has \(actual)"
        case .storageOutOfRange(let path, let tensor, let storage, let end, let bytes):
            "\(path): tensor \(tensor) reaches byte \(end) of the \(bytes)-byte storage \(storage)"
        case .invalidTensorRecord(let path, let tensor, let reason): "\(path): tensor \(tensor): \(reason)"
        case .unsupportedCheckpointContent(let path, let reason): "\(path): \(reason)"
        }
    }
}
