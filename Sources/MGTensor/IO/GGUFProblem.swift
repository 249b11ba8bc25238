/// What is wrong with a malformed GGUF file (``CheckpointError/invalidGGUF(path:problem:)``).
/// Offsets are bytes from the start of the file.
public enum GGUFProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not start with `GGUF`.
    case badMagic(UInt32)
    /// A version other than 3 (2 is read too: its layout is the same).
    case unsupportedVersion(UInt32)
    /// A field of `needed` bytes at `offset` runs past the end of the file.
    case truncated(offset: Int, needed: Int)
    /// A count (`what`: tensors, metadata entries, array elements, dimensions) that cannot fit the file or exceeds the limit.
    case countTooLarge(what: String, count: UInt64, limit: UInt64)
    /// A string length at `offset` larger than the rest of the file or the limit.
    case stringTooLong(offset: Int, length: UInt64)
    /// A string at `offset` that is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A metadata value type id that GGUF does not define.
    case unknownValueType(offset: Int, type: UInt32)
    /// Arrays nested deeper than the reader accepts.
    case arrayNestingTooDeep(offset: Int)
    /// The same metadata key twice.
    case duplicateKey(String)
    /// `general.alignment` that is not a positive power of two (or has the wrong type).
    case invalidAlignment(String)
    /// The same tensor name twice.
    case duplicateTensor(String)
    /// A tensor's GGML type id is unknown to this reader.
    case unknownTensorType(tensor: String, type: UInt32)
    /// A tensor with no dimensions, more than 4, a zero dimension, or an overflowing element count.
    case invalidShape(tensor: String, dimensions: [UInt64])
    /// A quantized tensor whose innermost dimension is not a whole number of blocks.
    case rowNotWholeBlocks(tensor: String, columns: Int, type: String)
    /// A tensor's data offset is not a multiple of the alignment.
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)
    /// A tensor's bytes run past the end of the file (`dataSize` bytes of tensor data).
    case tensorPastEnd(tensor: String, offset: UInt64, byteCount: Int, dataSize: Int)
    /// Two tensors share bytes.
    case overlappingTensors(tensor: String, other: String)

    public var description: String {
        switch self {
        case .badMagic(let magic): "not a GGUF file (magic 0x\(String(magic, radix: 16)))"
        case .unsupportedVersion(let version): "GGUF version \(version) is not supported (3 is)"
        case .truncated(let offset, let needed): "\(needed) bytes at byte \(offset) run past the end of the file (truncated?)"
        case .countTooLarge(let what, let count, let limit): "\(what) count \(count) exceeds \(limit)"
        case .stringTooLong(let offset, let length): "string of \(length) bytes at byte \(offset) exceeds the file"
        case .invalidUTF8(let offset): "string at byte \(offset) is not UTF-8"
        case .unknownValueType(let offset, let type): "unknown metadata value type \(type) at byte \(offset)"
        case .arrayNestingTooDeep(let offset): "arrays nested too deeply at byte \(offset)"
        case .duplicateKey(let key): "metadata key \(key) appears twice"
        case .invalidAlignment(let reason): "general.alignment \(reason)"
        case .duplicateTensor(let name): "tensor \(name) appears twice"
        case .unknownTensorType(let tensor, let type): "tensor \(tensor) has unknown GGML type \(type)"
        case .invalidShape(let tensor, let dimensions): "tensor \(tensor) has invalid dimensions \(dimensions)"
        case .rowNotWholeBlocks(let tensor, let columns, let type): "tensor \(tensor): \(columns) columns are not whole \(type) blocks"
        case .misalignedTensor(let tensor, let offset, let alignment): "tensor \(tensor) at data offset \(offset) is not \(alignment)-byte aligned"
        case .tensorPastEnd(let tensor, let offset, let count, let size):
            "tensor \(tensor) (\(count) bytes at data offset \(offset)) runs past the \(size)-byte data section"
        case .overlappingTensors(let tensor, let other): "tensor \(tensor) overlaps \(other)"
        }
    }
}
