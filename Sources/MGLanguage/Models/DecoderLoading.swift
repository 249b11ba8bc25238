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

    public init(
        keyPrefix: String = "model.", lmHeadKey: String = "lm_head.weight",
        ignoredKeyFragments: [String] = ["vision_tower", "mm_projector", "vlm_uni", "rotary_emb.inv_freq"],
        rejectsUnusedWeights: Bool = true, matrixPrecision: LinearPrecision = .float32
    ) {
        self.keyPrefix = keyPrefix
        self.lmHeadKey = lmHeadKey
        self.ignoredKeyFragments = ignoredKeyFragments
        self.rejectsUnusedWeights = rejectsUnusedWeights
        self.matrixPrecision = matrixPrecision
    }
}
