import CMGKernels
import MGTensor

// One pre-norm transformer block as in transformers' LlamaDecoderLayer / MistralDecoderLayer /
// MixtralDecoderLayer / GemmaDecoderLayer:
//   h = h + o_proj(Attention(RMSNorm₁(h)));  h = h + MLP(RMSNorm₂(h)).

/// The q/k/v/o projections of one layer (`[out, in]` HF layout, stored dtype).
struct AttentionWeights: Sendable {
    let query: Tensor      // [Hq·D, hidden]
    let key: Tensor        // [Hkv·D, hidden]
    let value: Tensor      // [Hkv·D, hidden]
    let output: Tensor     // [hidden, Hq·D]
    let queryBias: Tensor?, keyBias: Tensor?, valueBias: Tensor?, outputBias: Tensor?
}

/// The MLP of one layer: dense gated (SwiGLU / GeGLU) or a sparse mixture of experts.
enum FeedForwardWeights: Sendable {
    /// `down(act(gate(x)) ⊙ up(x))`.
    case dense(gate: Tensor, up: Tensor, down: Tensor)  // [I, hidden], [I, hidden], [hidden, I]
    case mixture(MixtureOfExperts)
}

struct DecoderLayer: Sendable {
    let inputNorm: Tensor               // [hidden]
    let attention: AttentionWeights
    let postAttentionNorm: Tensor       // [hidden]
    let feedForward: FeedForwardWeights
}

/// Geometry shared by every layer's attention call within one forward pass.
struct AttentionContext {
    let configuration: DecoderConfiguration
    let rotary: RotaryTable             // positions past ..< past + T
    let past: Int
    let keyCache: UnsafeMutablePointer<Float>
    let valueCache: UnsafeMutablePointer<Float>
    let cacheLayout: KVCache.Layout
    let precision: LinearPrecision
}

extension DecoderLayer {
    /// `x`: `[T, hidden]` F32. Writes this layer's keys/values at positions `past ..< past + T`.
    func callAsFunction(_ x: Tensor, layerIndex: Int, context: AttentionContext) throws(TensorError) -> Tensor {
        let c = context.configuration
        let gemma = c.family == .gemma
        var h = x
        let normed = try rmsNorm(h, weight: inputNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        try addInPlace(&h, attention(normed, layerIndex: layerIndex, context: context))
        let normed2 = try rmsNorm(h, weight: postAttentionNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        switch feedForward {
        case .dense(let gate, let up, let down):
            try addInPlace(
                &h, denseMLP(normed2, gate: gate, up: up, down: down, activation: c.activation, precision: context.precision))
        case .mixture(let experts):
            try addInPlace(&h, experts(normed2, activation: c.activation, precision: context.precision))
        }
        return h
    }

    private func attention(_ x: Tensor, layerIndex: Int, context: AttentionContext) throws(TensorError) -> Tensor {
        let c = context.configuration
        let length = x.shape[0], d = c.headDimension, hq = c.attentionHeads, hkv = c.keyValueHeads
        let w = attention
        var q: Tensor, k: Tensor  // [T, Hq·D], [T, Hkv·D]
        let v: Tensor  // [T, Hkv·D]
        if w.queryBias == nil, w.keyBias == nil, w.valueBias == nil {
            // One pass over the three weights (a single hand-off to the worker threads in decode).
            let projected = try linear(x, weights: [w.query, w.key, w.value], precision: context.precision)
            (q, k, v) = (projected[0], projected[1], projected[2])
        } else {
            q = try linear(x, weight: w.query, bias: w.queryBias, precision: context.precision)
            k = try linear(x, weight: w.key, bias: w.keyBias, precision: context.precision)
            v = try linear(x, weight: w.value, bias: w.valueBias, precision: context.precision)
        }
        let table = context.rotary
        table.cosines.withUnsafeBufferPointer { cosines in
            table.sines.withUnsafeBufferPointer { sines in
                q.withUnsafeMutableFloats { mg_decoder_rope($0.baseAddress!, length, hq, d, cosines.baseAddress!, sines.baseAddress!) }
                k.withUnsafeMutableFloats { mg_decoder_rope($0.baseAddress!, length, hkv, d, cosines.baseAddress!, sines.baseAddress!) }
            }
        }
        // Append the new keys/values to the cache: row t of head h goes to position past + t.
        let cache = context.cacheLayout, past = context.past
        k.withUnsafeFloats { kRows in
            v.withUnsafeFloats { vRows in
                for head in 0..<hkv {
                    let base = cache.headOffset(layer: layerIndex, head: head) + past * d
                    for t in 0..<length {
                        let source = (t * hkv + head) * d
                        (context.keyCache + base + t * d).update(from: kRows.baseAddress! + source, count: d)
                        (context.valueCache + base + t * d).update(from: vRows.baseAddress! + source, count: d)
                    }
                }
            }
        }
        var output = try Tensor.zeros([length, hq * d])
        let group = c.queryGroupSize, window = c.slidingWindow ?? 0
        let scale = 1 / Float(d).squareRoot()
        let work = group * (past + length) * d
        q.withUnsafeFloats { qBuffer in
            output.withUnsafeMutableFloats { oBuffer in
                let qp = qBuffer.baseAddress!, op = oBuffer.baseAddress!
                Parallel.forEachChunk(count: hkv * length, minimumChunk: max(1, (1 << 15) / max(1, work))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: group * (past + length))
                    defer { scratch.deallocate() }
                    var task = range.lowerBound
                    while task < range.upperBound {
                        let head = task / length, t = task % length
                        let end = min(length, t + (range.upperBound - task))
                        let offset = cache.headOffset(layer: layerIndex, head: head)
                        mg_decoder_attention(
                            qp, hq * d, context.keyCache + offset, context.valueCache + offset, d, group, head,
                            t, end, past, window, scale, op, scratch)
                        task += end - t
                    }
                }
            }
        }
        return try linear(output, weight: w.output, bias: w.outputBias, precision: context.precision)
    }
}

/// `down(act(gate(x)) ⊙ up(x))` for `x` `[T, hidden]` (fused on AMX for prefill, see ``gatedMLP``).
func denseMLP(
    _ x: Tensor, gate: Tensor, up: Tensor, down: Tensor, activation: DecoderActivation, precision: LinearPrecision
) throws(TensorError) -> Tensor {
    let gated: GatedActivation
    switch activation {
    case .silu: gated = .silu
    case .gelu(let approximation): gated = .gelu(approximation)
    }
    return try gatedMLP(x, gate: gate, up: up, down: down, activation: gated, precision: precision)
}
