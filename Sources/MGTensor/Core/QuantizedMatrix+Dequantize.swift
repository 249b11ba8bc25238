import CMGKernels

extension QuantizationFormat {
    /// Whether ``QuantizedMatrix/dequantizeRows(_:into:)`` (and so ``quantizedLinear(_:weight:bias:)``)
    /// handles this format: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and the K-quants Q2_K…Q6_K.
    public var supportsDequantization: Bool {
        switch self {
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: true
        case .q8_1, .q8_K: false
        }
    }
}

extension QuantizedMatrix {
    /// Dequantizes rows `rows` to F32 at `destination` (`rows.count × columns` floats), bit-exact
    /// with llama.cpp's `dequantize_row_*`.
    /// - Throws: ``TensorError/unsupportedDType(operation:_:)``-style ``TensorError/invalidArgument(operation:reason:)``
    ///   for a format without a dequantizer, ``TensorError/indexOutOfRange(operation:index:count:)`` for rows outside the matrix.
    public func dequantizeRows(_ rows: Range<Int>, into destination: UnsafeMutablePointer<Float>) throws(TensorError) {
        guard format.supportsDequantization else {
            throw .invalidArgument(operation: "dequantize", reason: "\(format.name) blocks are not supported")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= self.rows else {
            throw .indexOutOfRange(operation: "dequantize", index: rows.upperBound - 1, count: self.rows)
        }
        let blocks = rows.count * (columns / format.blockSize)
        _ = mg_dequantize_blocks(Int32(format.rawValue), rowBase(rows.lowerBound), destination, blocks)
    }

    /// The whole matrix as an F32 `[rows, columns]` tensor (a copy 4 bytes per value: for tests,
    /// embedding tables and the small tensors of a model, never for its large linear weights).
    public func dequantized() throws(TensorError) -> Tensor {
        var result = Tensor(uninitializedShape: [rows, columns])
        var failure: TensorError?
        result.withUnsafeMutableFloats { buffer in
            do throws(TensorError) { try dequantizeRows(0..<rows, into: buffer.baseAddress!) } catch { failure = error }
        }
        if let failure { throw failure }
        return result
    }

    /// Rows `range` as a matrix borrowing the same bytes (e.g. one expert of a stacked GGUF
    /// `ffn_*_exps` tensor).
    public func rows(_ range: Range<Int>) throws(TensorError) -> QuantizedMatrix {
        guard range.lowerBound >= 0, range.upperBound <= rows, !range.isEmpty else {
            throw .indexOutOfRange(operation: "quantized rows", index: range.upperBound - 1, count: rows)
        }
        let view = TensorStorage(
            borrowing: rowBase(range.lowerBound), byteCount: range.count * rowByteCount, dtype: .u8, owner: storage)
        return try QuantizedMatrix(format: format, rows: range.count, columns: columns, storage: view)
    }

    /// A copy with its rows reordered: row `i` of the result is row `order[i]` of this matrix.
    public func permutingRows(_ order: [Int]) throws(TensorError) -> QuantizedMatrix {
        guard order.count == rows else { throw .invalidArgument(operation: "permute rows", reason: "\(order.count) indices for \(rows) rows") }
        let copy = TensorStorage(allocating: storage.byteCount, dtype: .u8)
        for (target, source) in order.enumerated() {
            guard source >= 0, source < rows else { throw .indexOutOfRange(operation: "permute rows", index: source, count: rows) }
            (copy.mutableBase + target * rowByteCount).copyMemory(from: rowBase(source), byteCount: rowByteCount)
        }
        return try QuantizedMatrix(format: format, rows: rows, columns: columns, storage: copy)
    }

    /// Quantizes an F32 `[rows, columns]` tensor to `format` (Q8_0, Q4_0, Q5_0, Q4_K or Q6_K).
    /// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for other formats or a tensor
    ///   that is not rank 2 with whole blocks per row.
    public static func quantizing(_ tensor: Tensor, to format: QuantizationFormat) throws(TensorError) -> QuantizedMatrix {
        guard [.q8_0, .q4_0, .q5_0, .q4_K, .q6_K].contains(format) else {
            throw .invalidArgument(operation: "quantize", reason: "quantizing to \(format.name) is not supported")
        }
        guard tensor.rank == 2, let rowBytes = format.rowByteCount(columns: tensor.shape[1]), tensor.shape[0] > 0 else {
            throw .invalidArgument(operation: "quantize", reason: "shape \(tensor.shape) is not whole \(format.name) blocks per row")
        }
        let rows = tensor.shape[0], columns = tensor.shape[1]
        let storage = TensorStorage(allocating: rows * rowBytes, dtype: .u8)
        let values = try tensor.asFloat32()
        values.withUnsafeFloats { buffer in
            let source = UncheckedSendable((buffer.baseAddress!, storage.mutableBase))
            Parallel.forEachChunk(count: rows, minimumChunk: max(1, (1 << 16) / columns)) { range in
                let (x, out) = source.value
                for row in range {
                    _ = mg_quantize_row(Int32(format.rawValue), x + row * columns, out + row * rowBytes, columns)
                }
            }
        }
        return try QuantizedMatrix(format: format, rows: rows, columns: columns, storage: storage)
    }
}
