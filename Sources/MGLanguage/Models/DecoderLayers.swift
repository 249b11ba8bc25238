import MGTensor

// One pre-norm transformer block as in transformers' LlamaDecoderLayer / MistralDecoderLayer /
// MixtralDecoderLayer / GemmaDecoderLayer:
//   h = h + o_proj(Attention(RMSNorm₁(h)));  h = h + MLP(RMSNorm₂(h)).
// R rows of input may belong to several sequences (a batched decode step); attention keeps each
// sequence to its own cache, everything else treats the rows alike.

/// The q/k/v/o projections of one layer (`[out, in]` HF layout; stored dtype or quantized blocks).
struct AttentionWeights: Sendable {
    let query: MatrixWeight     // [Hq·D, hidden]
    let key: MatrixWeight       // [Hkv·D, hidden]
    let value: MatrixWeight     // [Hkv·D, hidden]
    let output: MatrixWeight    // [hidden, Hq·D]
    let queryBias: Tensor?, keyBias: Tensor?, valueBias: Tensor?, outputBias: Tensor?
}

/// The MLP of one layer: dense gated (SwiGLU / GeGLU) or a sparse mixture of experts.
enum FeedForwardWeights: Sendable {
    /// `down(act(gate(x)) ⊙ up(x))`.
    case dense(gate: MatrixWeight, up: MatrixWeight, down: MatrixWeight)  // [I, hidden], [I, hidden], [hidden, I]
    case mixture(MixtureOfExperts)
}

struct DecoderLayer: Sendable {
    let inputNorm: Tensor               // [hidden]
    let attention: AttentionWeights
    let postAttentionNorm: Tensor       // [hidden]
    let feedForward: FeedForwardWeights
}

/// What every layer of one forward pass shares.
struct ForwardContext {
    let configuration: DecoderConfiguration
    /// One row per input row: the rotary angles of that row's position.
    let rotary: RotaryTable
    /// The sequences the rows belong to, with their caches.
    let sequences: [SequenceCache]
    let precision: LinearPrecision
    /// q/k heads hold their rotary pairs in adjacent values (GGUF `llama` weights kept as stored).
    let rotaryPairsAdjacent: Bool
}

extension DecoderLayer {
    /// `x`: `[R, hidden]` F32. Writes this layer's keys and values into each sequence's cache.
    func callAsFunction(_ x: Tensor, layerIndex: Int, context: ForwardContext) throws(TensorError) -> Tensor {
        let c = context.configuration
        let gemma = c.family == .gemma
        var h = x
        let attentionInput = try rmsNorm(h, weight: inputNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        try addInPlace(&h, attend(attentionInput, layerIndex: layerIndex, context: context))
        let mlpInput = try rmsNorm(h, weight: postAttentionNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        switch feedForward {
        case .dense(let gate, let up, let down):
            try addInPlace(&h, gatedMLP(mlpInput, gate: gate, up: up, down: down, activation: c.gatedActivation, precision: context.precision))
        case .mixture(let experts):
            try addInPlace(&h, experts(mlpInput, activation: c.gatedActivation, precision: context.precision))
        }
        return h
    }

    private func attend(_ x: Tensor, layerIndex: Int, context: ForwardContext) throws(TensorError) -> Tensor {
        let c = context.configuration
        let w = attention
        var q: Tensor, k: Tensor    // [R, Hq·D], [R, Hkv·D]
        let v: Tensor               // [R, Hkv·D]
        if w.queryBias == nil, w.keyBias == nil, w.valueBias == nil {
            // One pass over the three weights (a single hand-off to the worker threads in decode).
            let projected = try linear(x, weights: [w.query, w.key, w.value], precision: context.precision)
            (q, k, v) = (projected[0], projected[1], projected[2])
        } else {
            q = try linear(x, weight: w.query, bias: w.queryBias, precision: context.precision)
            k = try linear(x, weight: w.key, bias: w.keyBias, precision: context.precision)
            v = try linear(x, weight: w.value, bias: w.valueBias, precision: context.precision)
        }
        try applyRotaryEmbedding(&q, heads: c.attentionHeads, table: context.rotary, pairsAdjacent: context.rotaryPairsAdjacent)
        try applyRotaryEmbedding(&k, heads: c.keyValueHeads, table: context.rotary, pairsAdjacent: context.rotaryPairsAdjacent)
        let attended = try cachedAttention(                                         // [R, Hq·D]
            query: q, key: k, value: v, sequences: context.sequences.map { $0.attention(layer: layerIndex) },
            heads: c.attentionHeads, keyValueHeads: c.keyValueHeads, slidingWindow: c.slidingWindow)
        return try linear(attended, weight: w.output, bias: w.outputBias, precision: context.precision)
    }
}

extension DecoderConfiguration {
    /// The MLP activation in MGTensor's terms.
    var gatedActivation: GatedActivation {
        switch activation {
        case .silu: .silu
        case .gelu(let approximation): .gelu(approximation)
        }
    }
}
