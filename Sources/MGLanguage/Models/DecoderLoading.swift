import MGTensor

/// How ``DecoderModel`` finds its tensors in a checkpoint and how strict it is about the rest.
public struct DecoderLoadOptions: Sendable {
    /// Prefix of the decoder body (`embed_tokens`, `layers.{i}…`, `norm`): `model.` for HF and
    /// Mini-Gemini checkpoints.
    public var keyPrefix: String
    /// Name of the output projection (unused when the configuration ties it to the embedding).
    public var lmHeadKey: String
    /// Tensors whose names contain any of these are not the decoder's and are never reported as
    /// unused: Mini-Gemini's vision towers, projector and mining modules, and the rotary
    /// `inv_freq` buffers some older checkpoints store.
    public var ignoredKeyFragments: [String]
    /// Throw ``LanguageModelError/unusedWeights(_:)`` when other tensors are left over (otherwise
    /// they are listed in ``DecoderModel/unusedWeightNames``).
    public var rejectsUnusedWeights: Bool
    /// Arithmetic of the multi-token (prefill) products with BF16 weights. `.float32` (the
    /// default) keeps results within ~1e-6 of an F32 model; `.bfloat16Activations` rounds the
    /// activations entering each projection to bf16, as PyTorch does when it runs a BF16 model,
    /// for about twice the prefill matrix speed on AMX CPUs and ~1e-3 relative error in the
    /// logits. Decoding single tokens is exact either way (see ``/MGTensor/LinearPrecision``).
    public var matrixPrecision: LinearPrecision
    /// How ``DecoderModel/newCache(maximumLength:)`` stores keys and values; `nil` (the default)
    /// chooses by the weights' origin: ``/MGTensor/KVCachePrecision/float16`` for a decoder read
    /// from GGUF (what llama.cpp does, and what its users expect), ``/MGTensor/KVCachePrecision/float32``
    /// otherwise (parity with transformers' float32 attention).
    public var kvCachePrecision: KVCachePrecision?

    public init(
        keyPrefix: String = "model.", lmHeadKey: String = "lm_head.weight",
        ignoredKeyFragments: [String] = ["vision_tower", "mm_projector", "vlm_uni", "rotary_emb.inv_freq"],
        rejectsUnusedWeights: Bool = true, matrixPrecision: LinearPrecision = .float32,
        kvCachePrecision: KVCachePrecision? = nil
    ) {
        self.keyPrefix = keyPrefix
        self.lmHeadKey = lmHeadKey
        self.ignoredKeyFragments = ignoredKeyFragments
        self.rejectsUnusedWeights = rejectsUnusedWeights
        self.matrixPrecision = matrixPrecision
        self.kvCachePrecision = kvCachePrecision
    }

    /// The cache precision for a decoder read from `weights`: ``kvCachePrecision`` when set, else
    /// F16 for a GGUF decoder (alone or first in a quantized folder's combined store) and F32 otherwise.
    public func resolvedKVCachePrecision(for weights: some WeightStore) -> KVCachePrecision {
        kvCachePrecision ?? (Self.holdsGGUFDecoder(weights) ? .float16 : .float32)
    }

    private static func holdsGGUFDecoder(_ store: any WeightStore) -> Bool {
        if store is GGUFDecoderWeights { return true }
        if let combined = store as? CombinedWeightStore { return combined.stores.contains { holdsGGUFDecoder($0) } }
        return false
    }
}
