import CMGKernels

/// Numerically stable softmax along `axis`, as `torch.softmax(x, dim: axis)`.
///
/// Each slice is shifted by its maximum before exponentiating, so large logits do not overflow.
/// The last axis (the common case: attention scores, vocabulary logits) runs one contiguous row at a
/// time; other axes are processed in blocks of columns without transposing. A slice containing NaN
/// or +∞ becomes NaN, and −∞ entries become 0, as in PyTorch.
///
/// - Parameters:
///   - x: any float tensor of rank ≥ 1.
///   - axis: the axis to normalise; negative values count from the end.
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)`` for an axis outside the rank,
///   ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func softmax(_ x: Tensor, axis: Int) throws(TensorError) -> Tensor {
    let resolved = try Shape.normalizedAxis(axis, rank: x.rank, operation: "softmax")
    let input = try x.asFloat32()
    var result = Tensor(uninitializedShape: x.shape)
    let length = x.shape[resolved]
    if result.count == 0 { return result }
    let outer = x.shape[..<resolved].reduce(1, *)
    let inner = x.shape[(resolved + 1)...].reduce(1, *)
    input.withUnsafeFloats { source in
        result.withUnsafeMutableFloats { destination in
            let src = source.baseAddress!, dst = destination.baseAddress!
            if inner == 1 {
                // About 4k elements per chunk keep the dispatch overhead small next to the exp work.
                let minimumRows = max(1, 4096 / length)
                Parallel.forEachChunk(count: outer, minimumChunk: minimumRows) { rows in
                    mg_softmax_rows(src + rows.lowerBound * length, dst + rows.lowerBound * length, rows.count, length)
                }
            } else {
                let units = outer * mg_softmax_strided_blocks(inner)
                let unitElements = min(inner, 256) * length
                Parallel.forEachChunk(count: units, minimumChunk: max(1, 4096 / unitElements)) { range in
                    mg_softmax_strided(src, dst, outer, length, inner, range.lowerBound, range.upperBound)
                }
            }
        }
    }
    return result
}
