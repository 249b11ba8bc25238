import Foundation
import MGTensor

// Mirrors transformers' CLIPVisionConfig (models/clip/configuration_clip.py): the same keys and
// the same defaults, so a config.json that omits a field means the same model here.

/// The architecture of a CLIP vision transformer, decoded from a Hugging Face `config.json`.
///
/// Accepts either a full `CLIPModel` config (the `vision_config` sub-dictionary is used, as in
/// `openai/clip-vit-large-patch14-336`) or a `CLIPVisionConfig` on its own.
///
/// ```swift
/// let configuration = try CLIPVisionConfiguration(contentsOf: clipDirectory.appending(path: "config.json"))
/// ```
public struct CLIPVisionConfiguration: Codable, Sendable, Equatable {
    /// Token width (`hidden_size`, 1024 for ViT-L).
    public var hiddenSize: Int
    /// MLP width (`intermediate_size`, 4096 for ViT-L).
    public var intermediateSize: Int
    /// Encoder layers (`num_hidden_layers`, 24 for ViT-L).
    public var hiddenLayerCount: Int
    /// Attention heads (`num_attention_heads`, 16 for ViT-L).
    public var attentionHeadCount: Int
    /// Input channels (`num_channels`, 3).
    public var channelCount: Int
    /// Input side in pixels (`image_size`, 336 for ViT-L/14-336).
    public var imageSize: Int
    /// Patch side in pixels (`patch_size`, 14 for ViT-L/14).
    public var patchSize: Int
    /// LayerNorm epsilon (`layer_norm_eps`).
    public var layerNormEpsilon: Float
    /// MLP activation (`hidden_act`): `quick_gelu` for OpenAI CLIP.
    public var hiddenActivation: String

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case intermediateSize = "intermediate_size"
        case hiddenLayerCount = "num_hidden_layers"
        case attentionHeadCount = "num_attention_heads"
        case channelCount = "num_channels"
        case imageSize = "image_size"
        case patchSize = "patch_size"
        case layerNormEpsilon = "layer_norm_eps"
        case hiddenActivation = "hidden_act"
    }

    /// Creates a configuration; the defaults are those of `CLIPVisionConfig` (ViT-B/32 at 224).
    public init(
        hiddenSize: Int = 768, intermediateSize: Int = 3072, hiddenLayerCount: Int = 12, attentionHeadCount: Int = 12,
        channelCount: Int = 3, imageSize: Int = 224, patchSize: Int = 32, layerNormEpsilon: Float = 1e-5,
        hiddenActivation: String = "quick_gelu"
    ) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.hiddenLayerCount = hiddenLayerCount
        self.attentionHeadCount = attentionHeadCount
        self.channelCount = channelCount
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.layerNormEpsilon = layerNormEpsilon
        self.hiddenActivation = hiddenActivation
    }

    /// OpenAI CLIP ViT-L/14 at 336 pixels, the low-resolution tower of every Mini-Gemini release.
    public static let vitLarge14x336 = CLIPVisionConfiguration(
        hiddenSize: 1024, intermediateSize: 4096, hiddenLayerCount: 24, attentionHeadCount: 16, imageSize: 336,
        patchSize: 14)

    public init(from decoder: any Decoder) throws {
        let defaults = CLIPVisionConfiguration()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? defaults.hiddenSize
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? defaults.intermediateSize
        hiddenLayerCount = try c.decodeIfPresent(Int.self, forKey: .hiddenLayerCount) ?? defaults.hiddenLayerCount
        attentionHeadCount = try c.decodeIfPresent(Int.self, forKey: .attentionHeadCount) ?? defaults.attentionHeadCount
        channelCount = try c.decodeIfPresent(Int.self, forKey: .channelCount) ?? defaults.channelCount
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? defaults.imageSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? defaults.patchSize
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? defaults.layerNormEpsilon
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hiddenActivation) ?? defaults.hiddenActivation
    }

    /// Decodes `config.json` bytes: a `CLIPModel` config (its `vision_config`, or the older
    /// `vision_config_dict`) or a `CLIPVisionConfig`.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for malformed JSON or an impossible
    ///   architecture.
    public init(jsonData: Data) throws(VisionError) {
        struct Outer: Decodable {
            var visionConfig: CLIPVisionConfiguration?
            var visionConfigDict: CLIPVisionConfiguration?
            enum CodingKeys: String, CodingKey {
                case visionConfig = "vision_config", visionConfigDict = "vision_config_dict"
            }
        }
        do {
            let outer = try JSONDecoder().decode(Outer.self, from: jsonData)
            self = try outer.visionConfig ?? outer.visionConfigDict
                ?? JSONDecoder().decode(CLIPVisionConfiguration.self, from: jsonData)
        } catch {
            throw .invalidConfiguration(reason: "CLIP config.json: \(error)")
        }
        try validate()
    }

    /// Reads and decodes a `config.json` file (see ``init(jsonData:)``).
    public init(contentsOf url: URL) throws(VisionError) {
        try self.init(jsonData: VisionError.configurationData(contentsOf: url))
    }

    /// Patches per side (24 for 336/14).
    public var gridSize: Int { imageSize / patchSize }
    /// Patches per image (576 for 336/14).
    public var patchCount: Int { gridSize * gridSize }
    /// Width of one attention head.
    public var headSize: Int { hiddenSize / attentionHeadCount }

    /// Checks that the sizes describe a buildable model.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` or
    ///   ``VisionError/unsupportedActivation(_:)``.
    public func validate() throws(VisionError) {
        let sizes = [hiddenSize, intermediateSize, attentionHeadCount, channelCount, imageSize, patchSize]
        guard sizes.allSatisfy({ $0 > 0 }), hiddenLayerCount >= 0 else {
            throw .invalidConfiguration(reason: "sizes must be positive: \(self)")
        }
        guard hiddenSize % attentionHeadCount == 0 else {
            throw .invalidConfiguration(reason: "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(attentionHeadCount)")
        }
        guard imageSize % patchSize == 0 else {
            throw .invalidConfiguration(reason: "image_size \(imageSize) is not a multiple of patch_size \(patchSize)")
        }
        guard layerNormEpsilon.isFinite, layerNormEpsilon >= 0 else {
            throw .invalidConfiguration(reason: "layer_norm_eps \(layerNormEpsilon) is not a non-negative number")
        }
        _ = try CLIPActivation(name: hiddenActivation)
    }
}

/// Which hidden-state rows the tower returns (`mm_vision_select_feature`).
public enum CLIPFeatureSelection: String, Codable, Sendable {
    /// Patch tokens only, the class token dropped (`"patch"`, Mini-Gemini's choice).
    case patch
    /// The class token followed by the patch tokens (`"cls_patch"`).
    case classAndPatch = "cls_patch"
}

/// The MLP activations CLIP checkpoints use (GELU variants), by their `hidden_act` names.
enum CLIPActivation: Sendable {
    case quick, erf, tanh

    init(name: String) throws(VisionError) {
        switch name {
        case "quick_gelu": self = .quick
        case "gelu": self = .erf
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .tanh
        default: throw .unsupportedActivation(name)
        }
    }

    func callAsFunction(_ x: Tensor) throws(TensorError) -> Tensor {
        switch self {
        case .quick: try quickGelu(x)
        case .erf: try gelu(x)
        case .tanh: try gelu(x, approximation: .tanh)
        }
    }
}
