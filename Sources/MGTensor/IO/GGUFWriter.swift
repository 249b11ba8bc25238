#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a GGUF version 3 file: metadata in the given order, tensor infos, then the tensor data,
/// each tensor at a multiple of the alignment (`general.alignment` when the metadata sets it as a
/// uint32, else 32).
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.metadata.append(("general.architecture", .string("llama")))
/// writer.tensors.append(("blk.0.attn_q.weight", .quantized(q)))
/// try writer.write(to: "model.gguf")
/// ```
public struct GGUFWriter {
    /// The bytes of one tensor.
    public enum Payload {
        /// A plain tensor in its stored dtype (F32, F16, BF16, or an integer type GGML knows).
        case tensor(Tensor)
        /// Quantized rows; `shape` (outermost first) defaults to the matrix's `[rows, columns]` and
        /// may split the rows into more dimensions (stacked experts).
        case quantized(QuantizedMatrix, shape: [Int]? = nil)
    }

    /// Metadata entries, written in this order.
    public var metadata: [(key: String, value: GGUFValue)] = []
    /// Tensors, written in this order.
    public var tensors: [(name: String, payload: Payload)] = []

    public init() {}

    /// Writes the file to `path` atomically (a temporary file renamed into place).
    /// - Throws: ``CheckpointError/ioFailure(path:reason:)``;
    ///   ``CheckpointError/invalidTensorName(path:tensor:)`` for a tensor whose dtype GGML lacks or
    ///   whose shape does not match its bytes.
    public func write(to path: String) throws(CheckpointError) {
        var alignment = GGUFFile.defaultAlignment
        if let value = metadata.first(where: { $0.key == "general.alignment" })?.value, case .uint32(let raw) = value, raw > 0 {
            alignment = Int(raw)
        }
        var header: [UInt8] = []
        append(UInt32(0x4655_4747), to: &header)
        append(UInt32(3), to: &header)
        append(UInt64(tensors.count), to: &header)
        append(UInt64(metadata.count), to: &header)
        for (key, value) in metadata {
            append(string: key, to: &header)
            append(value.type.rawValue, to: &header)
            append(value: value, to: &header)
        }
        var offset = 0
        var layout: [(storage: TensorStorage, padding: Int)] = []
        for (name, payload) in tensors {
            let (type, shape, storage) = try describe(payload, name: name, path: path)
            append(string: name, to: &header)
            append(UInt32(shape.count), to: &header)
            for dim in shape.reversed() { append(UInt64(dim), to: &header) }
            append(type.ggmlType, to: &header)
            append(UInt64(offset), to: &header)
            let end = offset + storage.byteCount
            let padded = (end + alignment - 1) / alignment * alignment
            layout.append((storage, padded - end))
            offset = padded
        }
        header += [UInt8](repeating: 0, count: (alignment - header.count % alignment) % alignment)

        try writeAtomically(to: path) { descriptor throws(CheckpointError) in
            try header.withUnsafeBytes { bytes in Result { () throws(CheckpointError) in try writeAll(bytes, to: descriptor, path: path) } }.get()
            let zeros = [UInt8](repeating: 0, count: alignment)
            for (storage, padding) in layout {
                try writeAll(UnsafeRawBufferPointer(start: storage.base, count: storage.byteCount), to: descriptor, path: path)
                try zeros.withUnsafeBytes { bytes in
                    Result { () throws(CheckpointError) in try writeAll(UnsafeRawBufferPointer(rebasing: bytes[0..<padding]), to: descriptor, path: path) }
                }.get()
            }
        }
    }

    private func describe(_ payload: Payload, name: String, path: String) throws(CheckpointError) -> (GGUFTensorType, [Int], TensorStorage) {
        switch payload {
        case .tensor(let tensor):
            let type = GGUFTensorType.plain(tensor.dtype)
            guard type.ggmlType != UInt32.max, tensor.rank >= 1, tensor.rank <= 4 else { throw .invalidTensorName(path: path, tensor: name) }
            return (type, tensor.shape, tensor.storage)
        case .quantized(let matrix, let shape):
            let shape = shape ?? matrix.shape
            guard shape.last == matrix.columns, shape.reduce(1, *) == matrix.rows * matrix.columns, shape.count <= 4 else {
                throw .invalidTensorName(path: path, tensor: name)
            }
            return (.quantized(matrix.format), shape, matrix.storage)
        }
    }

    private func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private func append(string: String, to bytes: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &bytes)
        bytes.append(contentsOf: string.utf8)
    }

    private func append(value: GGUFValue, to bytes: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &bytes)
        case .int8(let v): append(v, to: &bytes)
        case .uint16(let v): append(v, to: &bytes)
        case .int16(let v): append(v, to: &bytes)
        case .uint32(let v): append(v, to: &bytes)
        case .int32(let v): append(v, to: &bytes)
        case .uint64(let v): append(v, to: &bytes)
        case .int64(let v): append(v, to: &bytes)
        case .float32(let v): append(v.bitPattern, to: &bytes)
        case .float64(let v): append(v.bitPattern, to: &bytes)
        case .bool(let v): bytes.append(v ? 1 : 0)
        case .string(let s): append(string: s, to: &bytes)
        case .array(let elementType, let values):
            append(elementType.rawValue, to: &bytes)
            append(UInt64(values.count), to: &bytes)
            for element in values { append(value: element, to: &bytes) }
        }
    }

}
