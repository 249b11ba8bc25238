import CMGKernels

// argmax and top-k, the selection steps of greedy and top-k sampling.

/// The index of the largest element along `axis`, as `torch.argmax(x, dim: axis)`.
///
/// Ties go to the first (lowest) index, and NaN counts as larger than any number (the first NaN
/// wins), both as in PyTorch.
/// - Returns: one index per slice, in row-major order of `x.shape` without `axis` (a single element
///   for a vector).
/// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)``,
///   ``TensorError/invalidArgument(operation:reason:)`` when the axis is empty,
///   ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func argmax(_ x: Tensor, axis: Int) throws(TensorError) -> [Int] {
    let resolved = try Shape.normalizedAxis(axis, rank: x.rank, operation: "argmax")
    let length = x.shape[resolved]
    guard length > 0 else { throw .invalidArgument(operation: "argmax", reason: "axis \(axis) is empty") }
    let input = try x.asFloat32()
    let outer = x.shape[..<resolved].reduce(1, *), inner = x.shape[(resolved + 1)...].reduce(1, *)
    var indices = [Int64](repeating: 0, count: outer * inner)
    if indices.isEmpty { return [] }
    input.withUnsafeFloats { source in
        indices.withUnsafeMutableBufferPointer { out in
            let src = source.baseAddress!, dst = out.baseAddress!
            if inner == 1 {
                Parallel.forEachChunk(count: outer, minimumChunk: max(1, (1 << 16) / length)) { rows in
                    mg_argmax_rows(src + rows.lowerBound * length, rows.count, length, dst + rows.lowerBound)
                }
            } else {
                Parallel.forEachChunk(count: outer, minimumChunk: max(1, (1 << 16) / (length * inner))) { range in
                    mg_argmax_strided(src, length, inner, range.lowerBound, range.upperBound, dst)
                }
            }
        }
    }
    return indices.map { Int($0) }
}

/// The index of the largest element of the whole tensor (flattened), with the tie and NaN rules
/// of ``argmax(_:axis:)``.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for an empty tensor.
public func argmax(_ x: Tensor) throws(TensorError) -> Int {
    guard x.count > 0 else { throw .invalidArgument(operation: "argmax", reason: "tensor is empty") }
    return try argmax(x.reshaped([x.count]), axis: 0)[0]
}

/// The result of ``topK(_:k:axis:)``.
public struct TopK: Sendable {
    /// The selected values, `x.shape` with `axis` shortened to `k`, descending along that axis.
    public let values: Tensor
    /// The positions along `axis` of ``values``, in the same (row-major) layout.
    public let indices: [Int]
}

/// The `k` largest elements along `axis`, sorted in descending order, as `torch.topk(x, k, dim: axis)`.
///
/// NaN ranks above every number (as in PyTorch). Equal values are ordered by lower index first;
/// PyTorch leaves the order of ties unspecified (its CPU kernel may return them in another order).
/// Selection uses a k-element heap, O(n log k) per slice, so `k` small next to a vocabulary is cheap.
/// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)``,
///   ``TensorError/invalidArgument(operation:reason:)`` when `k` is negative or larger than the axis,
///   ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func topK(_ x: Tensor, k: Int, axis: Int = -1) throws(TensorError) -> TopK {
    let resolved = try Shape.normalizedAxis(axis, rank: x.rank, operation: "topK")
    let length = x.shape[resolved]
    guard k >= 0, k <= length else {
        throw .invalidArgument(operation: "topK", reason: "k = \(k) is outside 0...\(length)")
    }
    let input = try x.asFloat32()
    let outer = x.shape[..<resolved].reduce(1, *), inner = x.shape[(resolved + 1)...].reduce(1, *)
    var shape = x.shape
    shape[resolved] = k
    var values = Tensor(uninitializedShape: shape)
    var indices = [Int64](repeating: 0, count: values.count)
    if values.count > 0 {
        input.withUnsafeFloats { source in
            values.withUnsafeMutableFloats { valueBuffer in
                indices.withUnsafeMutableBufferPointer { indexBuffer in
                    let src = source.baseAddress!, vals = valueBuffer.baseAddress!, ids = indexBuffer.baseAddress!
                    if inner == 1 {
                        Parallel.forEachChunk(count: outer, minimumChunk: max(1, (1 << 16) / length)) { rows in
                            for row in rows { mg_topk(src + row * length, length, 1, k, vals + row * k, ids + row * k) }
                        }
                    } else {
                        topKStrided(src, outer: outer, length: length, inner: inner, k: k, values: vals, indices: ids)
                    }
                }
            }
        }
    }
    return TopK(values: values, indices: indices.map { Int($0) })
}

/// Top-k along a non-last axis: each column is selected in place (strided reads), then its k
/// results are scattered to their strided output positions.
private func topKStrided(
    _ src: UnsafePointer<Float>, outer: Int, length: Int, inner: Int, k: Int,
    values: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int64>
) {
    var columnValues = [Float](repeating: 0, count: k)
    var columnIndices = [Int64](repeating: 0, count: k)
    for o in 0..<outer {
        for j in 0..<inner {
            mg_topk(src + o * length * inner + j, length, inner, k, &columnValues, &columnIndices)
            for r in 0..<k {
                values[(o * k + r) * inner + j] = columnValues[r]
                indices[(o * k + r) * inner + j] = columnIndices[r]
            }
        }
    }
}
