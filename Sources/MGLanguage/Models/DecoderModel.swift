import Foundation
import MGTensor

// A decoder-only transformer in the form of Hugging Face transformers' LlamaForCausalLM,
// MistralForCausalLM, MixtralForCausalLM and GemmaForCausalLM (eager attention, float32 compute),
// which Mini-Gemini's MGM*ForCausalLM classes wrap unchanged.

/// A loaded Llama, Mistral, Mixtral or Gemma decoder.
///
/// Weights stay in their stored dtype (F32, F16 or BF16, memory-mapped from safetensors, or GGML
/// blocks mapped from GGUF — the embedding table and a tied output projection included) and are
/// widened block by block inside each matrix product; activations are F32, and so is the KV cache
/// unless the decoder comes from GGUF (F16 by default then, as llama.cpp; ``kvCachePrecision``). The
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

    /// `[vocab, hidden]` in its stored type: a mapped F32/F16/BF16 tensor or GGML blocks (a GGUF
    /// `token_embd`), whose lookup dequantizes only the rows it gathers.
    let embeddingTable: MatrixWeight
    let layers: [DecoderLayer]
    let finalNorm: Tensor           // [hidden]
    let outputProjection: MatrixWeight  // [vocab, hidden]; the embedding table itself when tied (quantized or not)
    let rotary: RotaryEmbedding
    /// q/k rows as GGUF stores `llama` weights: rotary pairs adjacent in each head.
    let rotaryPairsAdjacent: Bool
    /// Arithmetic of the multi-token products (``DecoderLoadOptions/matrixPrecision``).
    public let matrixPrecision: LinearPrecision
    /// How ``newCache(maximumLength:)`` stores keys and values (``DecoderLoadOptions/kvCachePrecision``:
    /// F16 by default for a GGUF decoder, F32 otherwise).
    public let kvCachePrecision: KVCachePrecision

    /// Loads the decoder from any weight store, verifying every shape against `configuration`.
    /// - Throws: ``LanguageModelError/missingWeight(_:)``,
    ///   ``LanguageModelError/weightShapeMismatch(key:expected:actual:)`` (naming the key and both
    ///   shapes), ``LanguageModelError/unusedWeights(_:)`` when strict, and configuration errors.
    public init(configuration: DecoderConfiguration, weights: some WeightStore, options: DecoderLoadOptions = .init()) throws(LanguageModelError) {
        try configuration.validate()
        let c = configuration
        let loader = WeightReader(weights, errors: LanguageModelError.weight)
        let p = options.keyPrefix
        let hidden = c.hiddenSize, d = c.headDimension
        embeddingTable = try loader.takeMatrix(p + "embed_tokens.weight", shape: [c.vocabularySize, hidden])
        var layers: [DecoderLayer] = []
        for i in 0..<c.layerCount {
            let l = "\(p)layers.\(i)."
            let a = l + "self_attn."
            let qOut = c.attentionHeads * d, kvOut = c.keyValueHeads * d
            func bias(_ name: String, _ size: Int) throws(LanguageModelError) -> Tensor? {
                c.attentionBias ? try loader.take(a + name + ".bias", shape: [size]) : nil
            }
            let attention = AttentionWeights(
                query: try loader.takeMatrix(a + "q_proj.weight", shape: [qOut, hidden]),
                key: try loader.takeMatrix(a + "k_proj.weight", shape: [kvOut, hidden]),
                value: try loader.takeMatrix(a + "v_proj.weight", shape: [kvOut, hidden]),
                output: try loader.takeMatrix(a + "o_proj.weight", shape: [hidden, qOut]),
                queryBias: try bias("q_proj", qOut), keyBias: try bias("k_proj", kvOut),
                valueBias: try bias("v_proj", kvOut), outputBias: try bias("o_proj", hidden))
            let inner = c.intermediateSize
            let feedForward: FeedForwardWeights
            if let expertCount = c.expertCount, let perToken = c.expertsPerToken {
                let m = l + "block_sparse_moe."
                let router = try loader.takeMatrix(m + "gate.weight", shape: [expertCount, hidden])
                var experts: [MixtureOfExperts.Expert] = []
                for e in 0..<expertCount {
                    let x = "\(m)experts.\(e)."
                    experts.append(MixtureOfExperts.Expert(
                        w1: try loader.takeMatrix(x + "w1.weight", shape: [inner, hidden]),
                        w2: try loader.takeMatrix(x + "w2.weight", shape: [hidden, inner]),
                        w3: try loader.takeMatrix(x + "w3.weight", shape: [inner, hidden])))
                }
                feedForward = .mixture(MixtureOfExperts(router: router, experts: experts, expertsPerToken: perToken))
            } else {
                feedForward = .dense(
                    gate: try loader.takeMatrix(l + "mlp.gate_proj.weight", shape: [inner, hidden]),
                    up: try loader.takeMatrix(l + "mlp.up_proj.weight", shape: [inner, hidden]),
                    down: try loader.takeMatrix(l + "mlp.down_proj.weight", shape: [hidden, inner]))
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
            // A quantized table multiplies through quantizedLinear as it is, as llama.cpp does.
            outputProjection = embeddingTable
        } else {
            outputProjection = try loader.takeMatrix(options.lmHeadKey, shape: [c.vocabularySize, hidden])
        }
        let unused = loader.unusedNames { name in options.ignoredKeyFragments.contains { name.contains($0) } }
        if options.rejectsUnusedWeights, !unused.isEmpty { throw .unusedWeights(unused) }
        unusedWeightNames = unused
        rotary = try tensorOp(LanguageModelError.tensor) { () throws(TensorError) in try RotaryEmbedding(headDim: d, theta: c.ropeTheta) }
        self.configuration = c
        rotaryPairsAdjacent = weights.rotaryPairsAdjacent
        matrixPrecision = options.matrixPrecision
        kvCachePrecision = options.resolvedKVCachePrecision(for: weights)
    }

    /// An empty cache of ``kvCachePrecision`` with room for `maximumLength` positions.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` for a non-positive length.
    public func newCache(maximumLength: Int) throws(LanguageModelError) -> KVCache {
        try newCache(maximumLength: maximumLength, precision: kvCachePrecision)
    }

    /// Loads `config.json` and the safetensors weights (one file or an index of shards) of a
    /// checkpoint directory.
    /// - Throws: as ``DecoderConfiguration/init(contentsOf:)`` and
    ///   ``init(configuration:weights:options:)``; ``LanguageModelError/checkpoint(_:)`` when the
    ///   weights cannot be opened.
    public convenience init(directory: URL, options: DecoderLoadOptions = .init()) throws(LanguageModelError) {
        let configuration = try DecoderConfiguration(contentsOf: directory)
        let store: ShardedSafetensors
        do { store = try ShardedSafetensors(contentsOf: directory) } catch { throw .checkpoint(error) }
        try self.init(configuration: configuration, weights: store, options: options)
    }

    public func embed(ids: [Int]) throws(LanguageModelError) -> Tensor {
        for id in ids where id < 0 || id >= configuration.vocabularySize {
            throw .invalidTokenID(id, vocabularySize: configuration.vocabularySize)
        }
        return try tensorOp(LanguageModelError.tensor) { () throws(TensorError) in try embedding(ids: ids, table: embeddingTable) }
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
        let length = inputEmbeddings.shape[0]
        try checkFits(cache, adding: length)
        let sequence = SequenceCache(rows: 0..<length, cache: &cache)
        let logits = try run(inputEmbeddings, sequences: [sequence], projecting: selection == .lastPosition ? [length - 1] : nil)
        cache.advance(by: length)
        return logits
    }
}

extension DecoderModel {
    /// Throws unless `cache` was made for this model and has room for `count` more positions.
    func checkFits(_ cache: KVCache, adding count: Int) throws(LanguageModelError) {
        let c = configuration
        guard cache.layerCount == c.layerCount, cache.keyValueHeads == c.keyValueHeads, cache.headDimension == c.headDimension else {
            throw .cacheMismatch(
                reason: "cache has \(cache.layerCount) layers × \(cache.keyValueHeads) heads × \(cache.headDimension), "
                    + "model has \(c.layerCount) × \(c.keyValueHeads) × \(c.headDimension)")
        }
        try cache.checkRoom(for: count)
    }

    /// The decoder body over `x` `[R, hidden]`, whose rows are the new positions of `sequences`,
    /// then the final norm and the vocabulary projection of the rows in `projecting` (every row
    /// when nil). The caller has checked the caches' room and advances them afterwards.
    /// - Returns: F32 logits, `[projecting.count or R, vocab]`.
    func run(_ x: Tensor, sequences: [SequenceCache], projecting rows: [Int]?) throws(LanguageModelError) -> Tensor {
        let c = configuration
        return try tensorOp(LanguageModelError.tensor) { () throws(TensorError) -> Tensor in
            var h = try x.asFloat32()                                   // [R, hidden]
            if c.family == .gemma { h = try scale(h, by: c.inputScale) }
            let context = ForwardContext(
                configuration: c, rotary: try rotary.table(positions: sequences.flatMap(\.positions)),
                sequences: sequences, precision: matrixPrecision, rotaryPairsAdjacent: rotaryPairsAdjacent)
            for (index, layer) in layers.enumerated() {
                h = try layer(h, layerIndex: index, context: context)
            }
            if let rows, rows != Array(0..<h.shape[0]) { h = try embedding(ids: rows, table: h) }  // [rows, hidden]
            let normed = try rmsNorm(h, weight: finalNorm, eps: c.rmsNormEpsilon, addUnitOffset: c.family == .gemma)
            return try linear(normed, weight: outputProjection, precision: matrixPrecision)      // [rows, vocab]
        }
    }
}
