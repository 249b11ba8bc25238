/// Gathers rows of an embedding table, like `torch.nn.functional.embedding(ids, table).float()`.
///
/// Only the selected rows are converted from the table's storage dtype, so a memory-mapped F16/BF16
/// vocabulary table is never upcast as a whole.
///
/// - Parameters:
///   - ids: row indices, each in `0..<vocab`.
///   - table: `[vocab, dim]` in F32, F16 or BF16.
/// - Returns: `[ids.count, dim]` in F32.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` when the table is not rank 2,
///   ``TensorError/unsupportedDType(operation:_:)`` for a non-float table,
///   ``TensorError/indexOutOfRange(operation:index:count:)`` for the first id outside the table.
public func embedding(ids: [Int], table: Tensor) throws(TensorError) -> Tensor {
    guard table.rank == 2 else {
        throw .invalidArgument(operation: "embedding", reason: "table must be [vocab, dim], got \(table.shape)")
    }
    guard table.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: "embedding", table.dtype) }
    let vocab = table.shape[0], dim = table.shape[1]
    for id in ids where id < 0 || id >= vocab {
        throw .indexOutOfRange(operation: "embedding", index: id, count: vocab)
    }
    var result = Tensor(uninitializedShape: [ids.count, dim])
    if result.count == 0 { return result }
    result.withUnsafeMutableFloats { buffer in
        ids.withUnsafeBufferPointer { idBuffer in
            let box = UncheckedSendable((buffer.baseAddress!, idBuffer.baseAddress!))
            // Rows are far below convertToFloats' own parallel threshold, so each chunk runs serially.
            Parallel.forEachChunk(count: ids.count, minimumChunk: max(1, 65536 / dim)) { range in
                let (out, ids) = box.value
                for row in range {
                    let start = ids[row] * dim
                    table.convertToFloats(into: out + row * dim, range: start..<start + dim)
                }
            }
        }
    }
    return result
}

/// Gathers rows of a dense or quantized embedding table (``embedding(ids:table:)`` for a dense
/// one). A quantized table (`token_embd.weight` of a GGUF file, mapped in its stored blocks) has
/// only the requested rows dequantized, bit-exact with llama.cpp's `dequantize_row_*`, so the
/// vocabulary is never widened to F32 as a whole (llama.cpp's `ggml_get_rows`).
///
/// - Parameters:
///   - ids: row indices, each in `0..<vocab`.
///   - table: `[vocab, dim]`, F32/F16/BF16 or GGML blocks.
/// - Returns: `[ids.count, dim]` in F32.
/// - Throws: as ``embedding(ids:table:)``; for blocks without a dequantizer,
///   ``TensorError/invalidArgument(operation:reason:)``.
public func embedding(ids: [Int], table: MatrixWeight) throws(TensorError) -> Tensor {
    let matrix: QuantizedMatrix
    switch table {
    case .dense(let tensor): return try embedding(ids: ids, table: tensor)
    case .quantized(let quantized): matrix = quantized
    }
    for id in ids where id < 0 || id >= matrix.rows {
        throw .indexOutOfRange(operation: "embedding", index: id, count: matrix.rows)
    }
    var result = Tensor(uninitializedShape: [ids.count, matrix.columns])
    if result.count == 0 { return result }
    var failure: TensorError?
    result.withUnsafeMutableFloats { buffer in
        guard let out = buffer.baseAddress else { return }
        do throws(TensorError) {
            // A prompt's rows are a few hundred KB of blocks at most: one thread is enough.
            for (row, id) in ids.enumerated() {
                try matrix.dequantizeRows(id..<id + 1, into: out + row * matrix.columns)
            }
        } catch {
            failure = error
        }
    }
    if let failure { throw failure }
    return result
}
