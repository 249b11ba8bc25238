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
