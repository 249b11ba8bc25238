import CMGKernels

// Rotary position embedding in the rotate-half layout of Hugging Face transformers (LLaMA, Gemma).

/// The frequencies of a rotary embedding: `inv_freq[i] = 1 / theta^(2i/d)` for `i < d/2`,
/// computed in float32 like transformers' default RoPE (`1.0 / (base ** (arange(0, d, 2).float() / d))`).
public struct RotaryEmbedding: Sendable {
    /// The rotated width `d` (the attention head dimension).
    public let headDim: Int
    /// The base `theta` (10 000 for LLaMA-2/Gemma, 500 000 for LLaMA-3).
    public let theta: Float

    /// - Throws: ``TensorError/invalidArgument(operation:reason:)`` unless `headDim` is positive
    ///   and even and `theta` is finite and greater than 0.
    public init(headDim: Int, theta: Float = 10_000) throws(TensorError) {
        guard headDim > 0, headDim % 2 == 0 else {
            throw .invalidArgument(operation: "RotaryEmbedding", reason: "head dimension \(headDim) must be positive and even")
        }
        guard theta.isFinite, theta > 0 else {
            throw .invalidArgument(operation: "RotaryEmbedding", reason: "theta \(theta) must be positive")
        }
        self.headDim = headDim
        self.theta = theta
    }

    /// The cos/sin table for `positions` (one row per position), to share across all layers of a
    /// forward pass. Angles are `Float(position) · inv_freq[i]` rounded to float32, exactly as
    /// transformers computes them, so large positions see the same float32 angle rounding.
    /// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for negative positions or
    ///   positions ≥ 2²⁴ (not exact in float32).
    public func table(positions: [Int]) throws(TensorError) -> RotaryTable {
        for position in positions where position < 0 || position >= 1 << 24 {
            throw .invalidArgument(operation: "RotaryEmbedding", reason: "position \(position) is outside 0..<2^24")
        }
        let half = headDim / 2
        var cosines = [Float](repeating: 0, count: positions.count * half)
        var sines = [Float](repeating: 0, count: positions.count * half)
        var inverse = [Float](repeating: 0, count: half)
        let wide = positions.map { Int64($0) }
        wide.withUnsafeBufferPointer { p in
            mg_rope_table(p.baseAddress, p.count, headDim, theta, &inverse, &cosines, &sines)
        }
        return RotaryTable(positions: positions, headDim: headDim, cosines: cosines, sines: sines)
    }

    /// `inv_freq`, the `d/2` angular frequencies (radians per position).
    public var inverseFrequencies: [Float] {
        var inverse = [Float](repeating: 0, count: headDim / 2)
        mg_rope_table(nil, 0, headDim, theta, &inverse, nil, nil)
        return inverse
    }
}

/// Precomputed `cos`/`sin` of the rotary angles for a list of positions (`[T, d/2]` each; the two
/// halves of a head share them). Build it once per forward pass with ``RotaryEmbedding/table(positions:)``.
public struct RotaryTable: Sendable {
    /// The positions of the rows, in order.
    public let positions: [Int]
    /// The head dimension `d` the table was built for.
    public let headDim: Int
    /// `cos(angle)`, row-major `[T, d/2]`.
    public let cosines: [Float]
    /// `sin(angle)`, row-major `[T, d/2]`.
    public let sines: [Float]
}

/// Applies rotary position embedding with a precomputed table:
/// `x' = x·cos + rotate_half(x)·sin` with `rotate_half(x) = [−x₂, x₁]` (the two halves of each head),
/// as transformers' `apply_rotary_pos_emb`.
///
/// Layout: `x` is `[..., T, d]`, normally `[B, heads, T, d]` as transformers and
/// ``scaledDotProductAttention(_:key:value:causal:scale:)`` use (or `[heads, T, d]`); every leading
/// index shares the table's `T` positions. Decoders, whose projections are `[T, heads·d]`, rotate in
/// place with ``applyRotaryEmbedding(_:heads:table:pairsAdjacent:)``.
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for rank < 2,
///   ``TensorError/shapeMismatch(operation:_:_:)`` when the last axis is not the table's `d` or
///   the sequence axis does not match its number of positions.
public func applyRotaryEmbedding(_ x: Tensor, table: RotaryTable) throws(TensorError) -> Tensor {
    guard x.rank >= 2 else {
        throw .invalidArgument(operation: "applyRotaryEmbedding", reason: "input must be [..., T, d], got \(x.shape)")
    }
    let length = x.shape[x.rank - 2], headDim = x.shape[x.rank - 1]
    guard headDim == table.headDim, length == table.positions.count else {
        throw .shapeMismatch(operation: "applyRotaryEmbedding", x.shape, [table.positions.count, table.headDim])
    }
    var result = try x.asFloat32()
    if result.count == 0 { return result }
    // Each leading index is a [T, 1, d] block in the kernel's [rows, heads, d] view.
    let slices = x.count / (length * headDim)
    result.withUnsafeMutableFloats { buffer in
        let base = UncheckedSendable(buffer.baseAddress!)
        table.cosines.withUnsafeBufferPointer { c in
            table.sines.withUnsafeBufferPointer { s in
                Parallel.forEachChunk(count: slices, minimumChunk: max(1, 16384 / (length * headDim))) { range in
                    for slice in range {
                        mg_rope_rows(base.value + slice * length * headDim, length, 1, headDim, c.baseAddress!, s.baseAddress!)
                    }
                }
            }
        }
    }
    return result
}

/// Rotates, in place, the rows of a decoder's query or key projection `x` `[T, heads·d]`; row t
/// uses the table's row t, so one table serves a prefill (positions `past ..< past + T`) and a
/// batched decode step (one position per sequence) alike.
/// - Parameters:
///   - x: the projection, F32 `[T, heads · d]`, rotated in place.
///   - heads: the number of heads in a row.
///   - table: the cosines and sines of the rows' positions (`T` rows of `d/2`).
///   - pairsAdjacent: each head's rotary pairs are `(x[2i], x[2i+1])` (llama.cpp's `llama`
///     layout, GGUF q/k rows kept as stored) instead of `(x[i], x[i + d/2])`; same arithmetic.
/// - Throws: ``TensorError/unsupportedDType(operation:_:)`` unless `x` is F32,
///   ``TensorError/shapeMismatch(operation:_:_:)`` unless `x` is `[table positions, heads · d]`.
public func applyRotaryEmbedding(_ x: inout Tensor, heads: Int, table: RotaryTable, pairsAdjacent: Bool = false) throws(TensorError) {
    guard x.dtype == .f32 else { throw .unsupportedDType(operation: "applyRotaryEmbedding", x.dtype) }
    guard heads > 0, x.shape == [table.positions.count, heads * table.headDim] else {
        throw .shapeMismatch(operation: "applyRotaryEmbedding", x.shape, [table.positions.count, heads * table.headDim])
    }
    x.withUnsafeMutableFloats { buffer in
        table.cosines.withUnsafeBufferPointer { c in
            table.sines.withUnsafeBufferPointer { s in
                if pairsAdjacent {
                    mg_rope_rows_adjacent(buffer.baseAddress!, table.positions.count, heads, table.headDim, c.baseAddress!, s.baseAddress!)
                } else {
                    mg_rope_rows(buffer.baseAddress!, table.positions.count, heads, table.headDim, c.baseAddress!, s.baseAddress!)
                }
            }
        }
    }
}

/// Applies rotary position embedding for `positions` with base `theta` (builds the table first;
/// decoders should build one ``RotaryTable`` per forward pass and reuse it for every layer).
/// - Throws: as ``RotaryEmbedding/init(headDim:theta:)``, ``RotaryEmbedding/table(positions:)`` and
///   ``applyRotaryEmbedding(_:table:)``.
public func applyRotaryEmbedding(_ x: Tensor, positions: [Int], theta: Float) throws(TensorError) -> Tensor {
    guard x.rank >= 2 else {
        throw .invalidArgument(operation: "applyRotaryEmbedding", reason: "input must be [..., T, d], got \(x.shape)")
    }
    let table = try RotaryEmbedding(headDim: x.shape[x.rank - 1], theta: theta).table(positions: positions)
    return try applyRotaryEmbedding(x, table: table)
}
