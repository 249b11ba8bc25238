import CMGKernels
import COpenBLAS

/// Scaled dot-product attention, `softmax(scale · Q·Kᵀ + mask) · V`, with grouped-query heads.
///
/// Matches `torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal:, scale:,
/// enable_gqa: true)` except for the causal alignment when `Tq < Tk`: here the queries are the
/// *last* `Tq` positions (as with a KV cache), so query `i` attends to keys `0...i + (Tk − Tq)`.
/// PyTorch aligns its causal mask to the top-left instead; the two agree when `Tq == Tk`.
///
/// Query head `h` uses key/value head `h / (Hq / Hkv)`. The query heads of one group are stacked
/// into a single GEMM against their shared keys, and query rows are processed in blocks so the
/// score buffer stays small (in cache) whatever the sequence length; causal blocks skip the keys
/// no row of the block can see.
///
/// - Parameters:
///   - query: `[B, Hq, Tq, D]`.
///   - key: `[B, Hkv, Tk, D]`.
///   - value: `[B, Hkv, Tk, Dv]`.
///   - causal: mask keys after each query's position (end-aligned, see above).
///   - scale: the factor on `Q·Kᵀ`; defaults to `1/√D`.
/// - Returns: `[B, Hq, Tq, Dv]` in F32.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for ranks other than 4, head counts
///   where `Hq` is not a multiple of `Hkv`, no keys, zero depth, or a causal mask with `Tq > Tk`;
///   ``TensorError/shapeMismatch(operation:_:_:)`` when batch, head, length or depth axes disagree.
public func scaledDotProductAttention(
    _ query: Tensor, key: Tensor, value: Tensor, causal: Bool = false, scale: Float? = nil
) throws(TensorError) -> Tensor {
    let operation = "scaledDotProductAttention"
    guard query.rank == 4, key.rank == 4, value.rank == 4 else {
        throw .invalidArgument(
            operation: operation, reason: "expects [B, H, T, D] tensors, got \(query.shape), \(key.shape), \(value.shape)")
    }
    let (batch, queryHeads, queryLength, depth) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (keyHeads, keyLength) = (key.shape[1], key.shape[2])
    let valueDepth = value.shape[3]
    guard key.shape[0] == batch, key.shape[3] == depth else { throw .shapeMismatch(operation: operation, query.shape, key.shape) }
    guard value.shape[0] == batch, value.shape[1] == keyHeads, value.shape[2] == keyLength else {
        throw .shapeMismatch(operation: operation, key.shape, value.shape)
    }
    guard keyHeads > 0, queryHeads % keyHeads == 0 else {
        throw .invalidArgument(
            operation: operation, reason: "query heads (\(queryHeads)) must be a multiple of key/value heads (\(keyHeads))")
    }
    guard causal == false || queryLength <= keyLength else {
        throw .invalidArgument(operation: operation, reason: "causal attention needs Tq (\(queryLength)) <= Tk (\(keyLength))")
    }

    let q = try query.asFloat32(), k = try key.asFloat32(), v = try value.asFloat32()
    var result = Tensor(uninitializedShape: [batch, queryHeads, queryLength, valueDepth])
    if result.count == 0 { return result }
    guard keyLength > 0 else { throw .invalidArgument(operation: operation, reason: "there are no keys to attend to") }
    guard depth > 0 else { throw .invalidArgument(operation: operation, reason: "query/key depth must be positive") }

    let plan = AttentionPlan(
        groups: batch * keyHeads, groupSize: queryHeads / keyHeads, queryLength: queryLength,
        keyLength: keyLength, depth: depth, valueDepth: valueDepth, causal: causal,
        scale: scale ?? 1 / Float(depth).squareRoot())
    try checkBLASDimensions([plan.groupSize * queryLength, keyLength, depth, valueDepth], operation: operation)
    q.withUnsafeFloats { qBuffer in
        k.withUnsafeFloats { kBuffer in
            v.withUnsafeFloats { vBuffer in
                result.withUnsafeMutableFloats { oBuffer in
                    plan.run(
                        query: qBuffer.baseAddress!, key: kBuffer.baseAddress!, value: vBuffer.baseAddress!,
                        output: oBuffer.baseAddress!)
                }
            }
        }
    }
    return result
}
