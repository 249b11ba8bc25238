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

/// Takes tensors out of a ``WeightStore`` by name, checking each shape against the configuration
/// and remembering what was used, so the leftovers can be reported at the end. Tensors stay in
/// their stored dtype (memory-mapped views for safetensors).
struct WeightLoader {
    let store: any WeightStore
    private(set) var used: Set<String> = []

    init(store: any WeightStore) { self.store = store }

    /// The tensor `name`, which must have `shape`.
    mutating func take(_ name: String, shape: [Int]) throws(LanguageModelError) -> Tensor {
        guard store.contains(name) else { throw .missingWeight(name) }
        let tensor: Tensor
        do { tensor = try store.tensor(named: name) } catch { throw .checkpoint(error) }
        guard tensor.shape == shape else { throw .weightShapeMismatch(key: name, expected: shape, actual: tensor.shape) }
        guard tensor.dtype.isFloatingPointCompute else { throw .unsupportedWeightDType(key: name, dtype: tensor.dtype) }
        used.insert(name)
        return tensor
    }

    /// The tensor `name` when present (optional biases), else nil.
    mutating func takeIfPresent(_ name: String, shape: [Int]) throws(LanguageModelError) -> Tensor? {
        store.contains(name) ? try take(name, shape: shape) : nil
    }

    /// Names neither used nor matched by `ignoring`, sorted.
    func unused(ignoring fragments: [String]) -> [String] {
        store.names.filter { name in !used.contains(name) && !fragments.contains { name.contains($0) } }
    }
}
