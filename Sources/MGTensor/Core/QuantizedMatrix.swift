/// A block-quantized number format of GGML, the formats GGUF files store, named and numbered as
/// GGML's `ggml_type` (the raw value is the type id written in a GGUF tensor info).
///
/// A row of `n` values is `n / blockSize` consecutive blocks of `bytesPerBlock` bytes each, in
/// GGML's exact byte layout (`block_q8_0`, `block_q4_K`, … of ggml-common.h).
public enum QuantizationFormat: UInt32, Sendable, CaseIterable, Hashable {
    case q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15

    /// Values per block: 32 for the simple formats, 256 for the K-quant super-blocks.
    public var blockSize: Int {
        switch self {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: 256
        }
    }

    /// Bytes per block.
    public var bytesPerBlock: Int {
        switch self {
        case .q4_0: 18      // f16 d, 16 bytes of nibbles
        case .q4_1: 20      // f16 d, f16 m, 16 bytes of nibbles
        case .q5_0: 22      // f16 d, 4 bytes of high bits, 16 bytes of nibbles
        case .q5_1: 24      // f16 d, f16 m, 4 bytes of high bits, 16 bytes of nibbles
        case .q8_0: 34      // f16 d, 32 int8
        case .q8_1: 36      // f16 d, f16 s, 32 int8
        case .q2_K: 84      // 16 scale bytes, 64 bytes of 2-bit values, f16 d, f16 dmin
        case .q3_K: 110     // 32 bytes high-bit mask, 64 bytes of 2-bit values, 12 scale bytes, f16 d
        case .q4_K: 144     // f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles
        case .q5_K: 176     // f16 d, f16 dmin, 12 scale bytes, 32 bytes of high bits, 128 bytes of nibbles
        case .q6_K: 210     // 128 bytes low nibbles, 64 bytes high bits, 16 int8 scales, f16 d
        case .q8_K: 292     // f32 d, 256 int8, 16 int16 block sums
        }
    }

    /// The name GGML and llama.cpp use (`Q8_0`, `Q4_K`, …).
    public var name: String {
        switch self {
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        }
    }

    /// Bytes of one row of `columns` values, or nil when `columns` is not a whole number of blocks.
    public func rowByteCount(columns: Int) -> Int? {
        guard columns > 0, columns % blockSize == 0 else { return nil }
        let (bytes, overflow) = (columns / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }
}

/// A `[rows, columns]` weight matrix stored as GGML quantized blocks, row after row, as GGUF files
/// hold it (a row of a `[out, in]` linear weight is one output's `in` values).
///
/// The bytes usually borrow a memory-mapped file; they are never dequantized as a whole.
public struct QuantizedMatrix: Sendable {
    /// The block format of every row.
    public let format: QuantizationFormat
    /// Outer dimension (`out` of a linear weight).
    public let rows: Int
    /// Inner dimension, a multiple of ``QuantizationFormat/blockSize``.
    public let columns: Int
    /// Bytes of one row.
    public let rowByteCount: Int
    /// The blocks, `rows × rowByteCount` bytes (dtype ``DType/u8``).
    public let storage: TensorStorage

    /// Wraps `storage`, which must hold exactly `rows` rows of `columns` values in `format`.
    /// - Throws: ``TensorError/invalidShape(_:)`` when `columns` is not a whole number of blocks or
    ///   the byte count does not match.
    public init(format: QuantizationFormat, rows: Int, columns: Int, storage: TensorStorage) throws(TensorError) {
        guard rows > 0, let rowBytes = format.rowByteCount(columns: columns) else { throw .invalidShape([rows, columns]) }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow, total == storage.byteCount else { throw .invalidShape([rows, columns]) }
        self.format = format
        self.rows = rows
        self.columns = columns
        self.rowByteCount = rowBytes
        self.storage = storage
    }

    /// The logical shape, `[rows, columns]`.
    public var shape: [Int] { [rows, columns] }

    /// Start of the blocks of `row`.
    public func rowBase(_ row: Int) -> UnsafeRawPointer {
        storage.base + row * rowByteCount
    }
}

/// A weight matrix as a model consumes it: a dense tensor in its stored float dtype, or GGML
/// quantized blocks. Linear layers accept either, so a decoder loads the same way from safetensors
/// and from GGUF.
public enum MatrixWeight: Sendable {
    case dense(Tensor)
    case quantized(QuantizedMatrix)

    /// The logical shape (`[out, in]` for a linear weight).
    public var shape: [Int] {
        switch self {
        case .dense(let tensor): tensor.shape
        case .quantized(let matrix): matrix.shape
        }
    }

    /// The tensor of a dense weight, nil for quantized blocks.
    public var denseTensor: Tensor? {
        if case .dense(let tensor) = self { tensor } else { nil }
    }
}
