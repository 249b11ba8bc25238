import Foundation
import MGTensor

// Mirrors transformers' CLIPVisionModel (models/clip/modeling_clip.py: CLIPVisionEmbeddings,
// CLIPEncoderLayer, CLIPVisionTransformer) as Mini-Gemini uses it in
// mgm/model/multimodal_encoder/clip_encoder.py: hidden_states[select_layer], optionally without CLS.

/// The CLIP vision transformer of Mini-Gemini's low-resolution branch.
///
/// Forward pass: 14×14 patch convolution (no bias) → class token prepended → learned positions
/// added → `pre_layrnorm` → pre-norm encoder layers up to the selected hidden state → class token
/// dropped for ``CLIPFeatureSelection/patch``. Layers after the selected one are neither loaded nor
/// evaluated (Mini-Gemini's `mm_vision_select_layer = -2` skips the last layer), and
/// `post_layernorm` is never used.
///
/// Weights keep their stored dtype (F16/BF16 checkpoints stay 16-bit and are widened block by
/// block inside each GEMM); the query, key and value projections are concatenated once at load so
/// each layer runs one QKV GEMM.
///
/// ```swift
/// let store = try SafetensorsFile(contentsOf: URL(fileURLWithPath: "clip-vit-large-patch14-336/model.safetensors"))
/// let tower = try CLIPVisionTower(configuration: .vitLarge14x336, weights: store)
/// let tokens = try tower.encode(pixels)   // [N, 576, 1024]
/// ```
public final class CLIPVisionTower: LowResolutionTokenEncoder {
    /// Key prefix of the tower in a Hugging Face CLIP checkpoint (`openai/clip-vit-*`).
    public static let huggingFacePrefix = "vision_model."
    /// Key prefix of the tower's copy inside Mini-Gemini's own safetensors shards.
    public static let miniGeminiPrefix = "model.vision_tower.vision_tower.vision_model."

    /// The architecture.
    public let configuration: CLIPVisionConfiguration
    /// The hidden state returned, as a non-negative index: 0 is the embedding output after
    /// `pre_layrnorm`, `i` the output of layer `i` (1-based). Also the number of layers evaluated.
    public let selectedHiddenState: Int
    /// Whether the class token is returned.
    public let featureSelection: CLIPFeatureSelection
    /// The arithmetic of the encoder layers' linear and attention products (``VisionPrecision/float32`` unless chosen).
    public let precision: VisionPrecision

    private let activation: CLIPActivation
    private let patchWeight: Tensor  // [C, 3·p·p]: the conv kernel flattened (c, ky, kx)
    private let classEmbedding: Tensor  // [C]
    private let positionEmbedding: Tensor  // [1 + g², C]
    private let preNorm: (weight: Tensor, bias: Tensor)  // [C] each
    let layers: [CLIPEncoderLayer]

    /// Loads the tower from a checkpoint.
    /// - Parameters:
    ///   - configuration: the architecture (e.g. decoded from the CLIP `config.json`).
    ///   - weights: any store holding the tensors, e.g. a ``/MGTensor/SafetensorsFile`` of the CLIP release or
    ///     a ``/MGTensor/ShardedSafetensors`` of a Mini-Gemini checkpoint.
    ///   - prefix: the key prefix of the tower: ``huggingFacePrefix`` or ``miniGeminiPrefix``.
    ///   - selectLayer: `mm_vision_select_layer`, indexing `hidden_states` as Python does
    ///     (−2 = the output of the second-to-last layer; 0 = the embeddings).
    ///   - featureSelection: `mm_vision_select_feature`.
    ///   - precision: the arithmetic of the encoder layers' linear products; ``VisionPrecision/bfloat16``
    ///     is the opt-in fast mode, which also runs the attention products in bf16
    ///     (the patch embedding stays F32).
    /// - Throws: ``VisionError/missingWeight(_:)``, ``VisionError/weightShape(name:expected:actual:)``
    ///   or ``VisionError/unusedWeights(_:)`` when the checkpoint does not match the
    ///   configuration, ``VisionError/invalidConfiguration(reason:)`` for an impossible
    ///   configuration or a layer index outside `hidden_states`.
    public init(
        configuration: CLIPVisionConfiguration, weights: some WeightStore, prefix: String = CLIPVisionTower.huggingFacePrefix,
        selectLayer: Int = -2, featureSelection: CLIPFeatureSelection = .patch, precision: VisionPrecision = .float32
    ) throws(VisionError) {
        try configuration.validate()
        let layerCount = configuration.hiddenLayerCount
        let selected = selectLayer < 0 ? layerCount + 1 + selectLayer : selectLayer
        guard (0...layerCount).contains(selected) else {
            throw .invalidConfiguration(
                reason: "select layer \(selectLayer) is outside hidden_states of a \(layerCount)-layer encoder (\(-layerCount - 1)...\(layerCount))")
        }
        self.configuration = configuration
        self.selectedHiddenState = selected
        self.featureSelection = featureSelection
        self.precision = precision
        self.activation = try CLIPActivation(name: configuration.hiddenActivation)

        let reader = WeightReader(weights, errors: VisionError.weight)
        let c = configuration.hiddenSize, p = configuration.patchSize, channels = configuration.channelCount
        let embeddings = prefix + "embeddings."
        patchWeight = try reader.take(embeddings + "patch_embedding.weight", shape: [c, channels, p, p])
            .reshapedOrThrow([c, channels * p * p])
        classEmbedding = try reader.take(embeddings + "class_embedding", shape: [c])
        positionEmbedding = try reader.take(embeddings + "position_embedding.weight", shape: [configuration.patchCount + 1, c])
        preNorm = (
            try reader.take(prefix + "pre_layrnorm.weight", shape: [c]),
            try reader.take(prefix + "pre_layrnorm.bias", shape: [c])
        )
        var layers = [CLIPEncoderLayer]()
        for index in 0..<selected {
            layers.append(try CLIPEncoderLayer(
                    reader: reader, prefix: prefix + "encoder.layers.\(index).", configuration: configuration, precision: precision))
        }
        self.layers = layers

        // Later layers, the unused final norm and the position-id buffer of older checkpoints are
        // expected in the file; anything else under the prefix means the configuration is wrong.
        let layersPrefix = prefix + "encoder.layers."
        try reader.verifyAllUsed(under: [prefix]) { name in
            let rest = name.dropFirst(prefix.count)
            if rest.hasPrefix("post_layernorm.") || rest == "embeddings.position_ids" { return true }
            guard name.hasPrefix(layersPrefix), let index = Int(name.dropFirst(layersPrefix.count).prefix { $0.isNumber }) else {
                return false
            }
            return index >= selected && index < layerCount
        }
    }

    public var imageSize: Int { configuration.imageSize }
    public var tokenSize: Int { configuration.hiddenSize }
    public var tokenCount: Int { configuration.patchCount + (featureSelection == .patch ? 0 : 1) }

    /// Encodes a batch of normalised images into visual tokens.
    /// - Parameter pixels: `[N, 3, S, S]` with `S = imageSize`, any float dtype.
    /// - Returns: `[N, tokenCount, tokenSize]` in F32: the selected hidden state, patch tokens in
    ///   row-major grid order (preceded by the class token for ``CLIPFeatureSelection/classAndPatch``).
    /// - Throws: ``VisionError/invalidInput(expected:actual:)`` for other shapes.
    public func encode(_ pixels: Tensor) throws(VisionError) -> Tensor {
        let size = configuration.imageSize
        guard pixels.rank == 4, pixels.shape[0] > 0, pixels.shape[1] == configuration.channelCount,
            pixels.shape[2] == size, pixels.shape[3] == size
        else {
            throw .invalidInput(expected: "[N, \(configuration.channelCount), \(size), \(size)]", actual: pixels.shape)
        }
        return try tensorOp(VisionError.tensor) { () throws(TensorError) in
            var hidden = try embed(pixels)  // [N, T, C]
            for layer in layers {
                try layer(&hidden, configuration: configuration, activation: activation)
            }
            switch featureSelection {
            case .patch: return try slice(hidden, axis: 1, range: 1..<hidden.shape[1])
            case .classAndPatch: return hidden
            }
        }
    }

    /// `pre_layrnorm(concat(class, patches) + positions)`: `[N, 1 + g², C]`.
    private func embed(_ pixels: Tensor) throws(TensorError) -> Tensor {
        let n = pixels.shape[0], channels = configuration.channelCount
        let g = configuration.gridSize, p = configuration.patchSize, c = configuration.hiddenSize
        // The patch convolution has stride == kernel, so it is one GEMM over the non-overlapping
        // patches, each flattened (channel, row, column) like the kernel; the product comes out
        // token-major [N·g², C] with no transpose of the result.
        let patches = try permute(pixels.reshaped([n, channels, g, p, g, p]), [0, 2, 4, 1, 3, 5])
            .reshaped([n * g * g, channels * p * p])
        let tokens = try linear(patches, weight: patchWeight).reshaped([n, g * g, c])
        let classTokens = try add(Tensor.zeros([n, 1, c]), classEmbedding)  // [N, 1, C]
        var hidden = try concat([classTokens, tokens], axis: 1)  // [N, T, C]
        try addInPlace(&hidden, positionEmbedding)
        return try layerNorm(hidden, weight: preNorm.weight, bias: preNorm.bias, eps: configuration.layerNormEpsilon)
    }
}

/// One pre-norm transformer layer (`CLIPEncoderLayer`).
struct CLIPEncoderLayer: Sendable {
    let norm1Weight, norm1Bias: Tensor  // [C]
    let qkvWeight: Tensor  // [3C, C]: q_proj, k_proj, v_proj stacked
    let qkvBias: Tensor  // [3C]
    let outWeight: Tensor  // [C, C]
    let outBias: Tensor  // [C]
    let norm2Weight, norm2Bias: Tensor  // [C]
    let fc1Weight: Tensor  // [I, C]
    let fc1Bias: Tensor  // [I]
    let fc2Weight: Tensor  // [C, I]
    let fc2Bias: Tensor  // [C]
    /// The arithmetic of the four products (the weights above are bf16 for ``VisionPrecision/bfloat16``).
    let precision: LinearPrecision

    init(
        reader: WeightReader<VisionError>, prefix: String, configuration: CLIPVisionConfiguration, precision: VisionPrecision = .float32
    ) throws(VisionError) {
        let c = configuration.hiddenSize, i = configuration.intermediateSize
        func load(_ name: String, _ shape: [Int]) throws(VisionError) -> Tensor {
            try reader.take(prefix + name, shape: shape)
        }
        norm1Weight = try load("layer_norm1.weight", [c])
        norm1Bias = try load("layer_norm1.bias", [c])
        let projections = ["q_proj", "k_proj", "v_proj"]
        var weights = [Tensor](), biases = [Tensor]()
        for name in projections {
            weights.append(try load("self_attn.\(name).weight", [c, c]))
            biases.append(try load("self_attn.\(name).bias", [c]))
        }
        // concat keeps a shared 16-bit dtype (F32 if the three differ), so BF16 stays BF16.
        qkvWeight = try precision.productWeight(tensorOp(VisionError.tensor) { () throws(TensorError) in try concat(weights, axis: 0) })
        qkvBias = try tensorOp(VisionError.tensor) { () throws(TensorError) in try concat(biases, axis: 0) }
        // The concatenated copy is what runs: the mapped q/k/v pages need not stay resident too.
        weights.forEach { $0.storage.releaseResidentPages() }
        outWeight = try precision.productWeight(load("self_attn.out_proj.weight", [c, c]))
        outBias = try load("self_attn.out_proj.bias", [c])
        norm2Weight = try load("layer_norm2.weight", [c])
        norm2Bias = try load("layer_norm2.bias", [c])
        fc1Weight = try precision.productWeight(load("mlp.fc1.weight", [i, c]))
        fc1Bias = try load("mlp.fc1.bias", [i])
        fc2Weight = try precision.productWeight(load("mlp.fc2.weight", [c, i]))
        self.precision = precision.linearPrecision
        fc2Bias = try load("mlp.fc2.bias", [c])
    }

    /// `h += out_proj(attention(LN1(h)))`; `h += fc2(act(fc1(LN2(h))))`, on `h: [N, T, C]`.
    func callAsFunction(
        _ hidden: inout Tensor, configuration: CLIPVisionConfiguration, activation: CLIPActivation
    ) throws(TensorError) {
        let n = hidden.shape[0], t = hidden.shape[1]
        let c = configuration.hiddenSize, heads = configuration.attentionHeadCount, d = configuration.headSize
        let eps = configuration.layerNormEpsilon

        let normed = try layerNorm(hidden, weight: norm1Weight, bias: norm1Bias, eps: eps)
        let qkv = try linear(normed, weight: qkvWeight, bias: qkvBias, precision: precision)  // [N, T, 3C]
        // HF scales the queries by head_dim^-0.5 before Q·Kᵀ; the same factor on the product.
        let merged: Tensor  // [N, T, C]
        if precision == .bfloat16Activations {
            // bf16 mode: both attention products in bf16, read from and written to the packed rows.
            merged = try bf16SelfAttention(packedQKV: qkv, heads: heads, scale: 1 / Float(d).squareRoot())
        } else {
            let split = try permute(qkv.reshaped([n, t, 3, heads, d]), [2, 0, 3, 1, 4])  // [3, N, H, T, D]
            let attended = try scaledDotProductAttention(
                split.row(0), key: split.row(1), value: split.row(2), scale: 1 / Float(d).squareRoot())  // [N, H, T, D]
            merged = try permute(attended, [0, 2, 1, 3]).reshaped([n, t, c])
        }
        try addInPlace(&hidden, linear(merged, weight: outWeight, bias: outBias, precision: precision))

        let normed2 = try layerNorm(hidden, weight: norm2Weight, bias: norm2Bias, eps: eps)
        let expanded = try activation(linear(normed2, weight: fc1Weight, bias: fc1Bias, precision: precision))  // [N, T, I]
        try addInPlace(&hidden, linear(expanded, weight: fc2Weight, bias: fc2Bias, precision: precision))
    }
}

extension Tensor {
    /// `reshaped(_:)` with the error wrapped for tower code.
    func reshapedOrThrow(_ shape: [Int]) throws(VisionError) -> Tensor {
        try tensorOp(VisionError.tensor) { () throws(TensorError) in try reshaped(shape) }
    }
}
