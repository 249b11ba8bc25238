import Foundation
import MGTensor

// A decoder-only transformer in the form of Hugging Face transformers' LlamaForCausalLM,
// MistralForCausalLM, MixtralForCausalLM and GemmaForCausalLM (eager attention, float32 compute),
// which Mini-Gemini's MGM*ForCausalLM classes wrap unchanged.

/// A loaded Llama, Mistral, Mixtral or Gemma decoder.
///
/// Weights stay in their stored dtype (F32, F16 or BF16, memory-mapped from safetensors) and are
/// widened block by block inside each matrix product; activations and the KV cache are F32. The
/// model is immutable and `Sendable`: share one instance between concurrent requests, each with
/// its own ``KVCache``.
///
/// Family differences: Gemma multiplies every input row by `√hidden` (in float32, as
/// transformers ≥ 4.39 rounds the factor to the activation dtype, which is float32 here), uses
/// `(1 + w)` RMSNorm and ties `lm_head` to the embedding; Mistral masks keys more than
/// `sliding_window − 1` positions behind each query (the attention kernel never reads them, in
/// prefill and decode alike; the cache still keeps the whole sequence); Mixtral routes each
/// token to its top experts.
public final class DecoderModel: CausalLanguageModel {
    public let configuration: DecoderConfiguration
    /// Checkpoint tensors that no part of the model used (only when the loader was not strict).
    public let unusedWeightNames: [String]

    let embeddingTable: Tensor      // [vocab, hidden]
    let layers: [DecoderLayer]
    let finalNorm: Tensor           // [hidden]
    let outputProjection: Tensor    // [vocab, hidden]; the embedding table when tied
    let rotary: RotaryEmbedding
    /// Arithmetic of the multi-token products (``DecoderLoadOptions/matrixPrecision``).
    public let matrixPrecision: LinearPrecision

    /// Loads the decoder from any weight store, verifying every shape against `configuration`.
    /// - Throws: ``LanguageModelError/missingWeight(_:)``,
    ///   ``LanguageModelError/weightShapeMismatch(key:expected:actual:)`` (naming the key and both
    ///   shapes), ``LanguageModelError/unusedWeights(_:)`` when strict, and configuration errors.
    public init(configuration: DecoderConfiguration, weights: some WeightStore, options: DecoderLoadOptions = .init()) throws(LanguageModelError) {
        try configuration.validate()
        let c = configuration
        var loader = WeightLoader(store: weights)
        let p = options.keyPrefix
        let hidden = c.hiddenSize, d = c.headDimension
        embeddingTable = try loader.take(p + "embed_tokens.weight", shape: [c.vocabularySize, hidden])
        var layers: [DecoderLayer] = []
        for i in 0..<c.layerCount {
            let l = "\(p)layers.\(i)."
            let a = l + "self_attn."
            let qOut = c.attentionHeads * d, kvOut = c.keyValueHeads * d
            func bias(_ name: String, _ size: Int) throws(LanguageModelError) -> Tensor? {
                c.attentionBias ? try loader.take(a + name + ".bias", shape: [size]) : nil
            }
            let attention = AttentionWeights(
                query: try loader.take(a + "q_proj.weight", shape: [qOut, hidden]),
                key: try loader.take(a + "k_proj.weight", shape: [kvOut, hidden]),
                value: try loader.take(a + "v_proj.weight", shape: [kvOut, hidden]),
                output: try loader.take(a + "o_proj.weight", shape: [hidden, qOut]),
                queryBias: try bias("q_proj", qOut), keyBias: try bias("k_proj", kvOut),
                valueBias: try bias("v_proj", kvOut), outputBias: try bias("o_proj", hidden))
            let inner = c.intermediateSize
            let feedForward: FeedForwardWeights
            if let expertCount = c.expertCount, let perToken = c.expertsPerToken {
                let m = l + "block_sparse_moe."
                let router = try loader.take(m + "gate.weight", shape: [expertCount, hidden])
                var experts: [MixtureOfExperts.Expert] = []
                for e in 0..<expertCount {
                    let x = "\(m)experts.\(e)."
                    experts.append(MixtureOfExperts.Expert(
                        w1: try loader.take(x + "w1.weight", shape: [inner, hidden]),
                        w2: try loader.take(x + "w2.weight", shape: [hidden, inner]),
                        w3: try loader.take(x + "w3.weight", shape: [inner, hidden])))
                }
                feedForward = .mixture(MixtureOfExperts(router: router, experts: experts, expertsPerToken: perToken))
            } else {
                feedForward = .dense(
                    gate: try loader.take(l + "mlp.gate_proj.weight", shape: [inner, hidden]),
                    up: try loader.take(l + "mlp.up_proj.weight", shape: [inner, hidden]),
                    down: try loader.take(l + "mlp.down_proj.weight", shape: [hidden, inner]))
            }
            layers.append(DecoderLayer(
                inputNorm: try loader.take(l + "input_layernorm.weight", shape: [hidden]),
                attention: attention,
                postAttentionNorm: try loader.take(l + "post_attention_layernorm.weight", shape: [hidden]),
                feedForward: feedForward))
        }
        self.layers = layers
        finalNorm = try loader.take(p + "norm.weight", shape: [hidden])
        if c.tiedEmbeddings {
            // Some checkpoints (reportedly MGM-2B) also store the tied copy; check it and use the embedding.
            _ = try loader.takeIfPresent(options.lmHeadKey, shape: [c.vocabularySize, hidden])
            outputProjection = embeddingTable
        } else {
            outputProjection = try loader.take(options.lmHeadKey, shape: [c.vocabularySize, hidden])
        }
        let unused = loader.unused(ignoring: options.ignoredKeyFragments)
        if options.rejectsUnusedWeights, !unused.isEmpty { throw .unusedWeights(unused) }
        unusedWeightNames = unused
        rotary = try tensorOp { () throws(TensorError) in try RotaryEmbedding(headDim: d, theta: c.ropeTheta) }
        self.configuration = c
        matrixPrecision = options.matrixPrecision
    }

    /// Loads `config.json` and the safetensors weights (one file or an index of shards) of a
    /// checkpoint directory.
    /// - Throws: as ``DecoderConfiguration/init(contentsOf:)`` and
    ///   ``init(configuration:weights:options:)``; ``LanguageModelError/checkpoint(_:)`` when the
    ///   weights cannot be opened.
    public convenience init(directory: String, options: DecoderLoadOptions = .init()) throws(LanguageModelError) {
        let configuration = try DecoderConfiguration(contentsOf: directory)
        let store: ShardedSafetensors
        do { store = try ShardedSafetensors(path: directory) } catch { throw .checkpoint(error) }
        try self.init(configuration: configuration, weights: store, options: options)
    }

    public func embed(ids: [Int]) throws(LanguageModelError) -> Tensor {
        for id in ids where id < 0 || id >= configuration.vocabularySize {
            throw .invalidTokenID(id, vocabularySize: configuration.vocabularySize)
        }
        return try tensorOp { () throws(TensorError) in try embedding(ids: ids, table: embeddingTable) }
    }

    /// Runs the decoder on the rows of `inputEmbeddings`, continuing the sequence in `cache`
    /// (``CausalLanguageModel/forward(inputEmbeddings:cache:logits:)``).
    /// - Parameters:
    ///   - inputEmbeddings: `[T, hidden]` rows, any float dtype.
    ///   - cache: this sequence's cache; `T` positions are appended.
    ///   - selection: which positions to project to the vocabulary.
    /// - Returns: F32 logits, `[1, vocab]` or `[T, vocab]`.
    /// - Throws: as ``CausalLanguageModel/forward(inputEmbeddings:cache:logits:)``.
    public func forward(inputEmbeddings: Tensor, cache: inout KVCache, logits selection: LogitsSelection) throws(LanguageModelError) -> Tensor {
        let c = configuration
        guard inputEmbeddings.rank == 2, inputEmbeddings.shape[1] == c.hiddenSize, inputEmbeddings.shape[0] > 0 else {
            throw .invalidInput("input embeddings must be [T > 0, \(c.hiddenSize)], got \(inputEmbeddings.shape)")
        }
        guard inputEmbeddings.dtype.isFloatingPointCompute else {
            throw .invalidInput("input embeddings must be F32, F16 or BF16, got \(inputEmbeddings.dtype)")
        }
        guard cache.layerCount == c.layerCount, cache.keyValueHeads == c.keyValueHeads, cache.headDimension == c.headDimension else {
            throw .cacheMismatch(
                reason: "cache has \(cache.layerCount) layers × \(cache.keyValueHeads) heads × \(cache.headDimension), "
                    + "model has \(c.layerCount) × \(c.keyValueHeads) × \(c.headDimension)")
        }
        let length = inputEmbeddings.shape[0]
        try cache.checkRoom(for: length)
        let past = cache.length
        let buffers = cache.mutableBuffers()
        let layout = cache.layout
        let logits = try tensorOp { () throws(TensorError) -> Tensor in
            var h = try inputEmbeddings.asFloat32()                    // [T, hidden]
            if c.family == .gemma { h = try scale(h, by: c.inputScale) }
            let context = AttentionContext(
                configuration: c, rotary: try rotary.table(positions: Array(past..<past + length)), past: past,
                keyCache: buffers.keys, valueCache: buffers.values, cacheLayout: layout,
                precision: matrixPrecision)
            for (index, layer) in layers.enumerated() {
                h = try layer(h, layerIndex: index, context: context)
            }
            if selection == .lastPosition, length > 1 {
                h = try h.row(length - 1).reshaped([1, c.hiddenSize])
            }
            let normed = try rmsNorm(h, weight: finalNorm, eps: c.rmsNormEpsilon, addUnitOffset: c.family == .gemma)
            return try linear(normed, weight: outputProjection, precision: matrixPrecision)  // [T or 1, vocab]
        }
        cache.advance(by: length)
        return logits
    }
}
