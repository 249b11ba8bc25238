import Foundation
import MGLanguage

// The multimodal fields a Mini-Gemini `config.json` carries next to the language model's own
// (MGM repo: mgm/model/mgm_arch.py, mgm/train/train.py ModelArguments; reference §9.2).

/// A Mini-Gemini checkpoint's `config.json`: the language model's configuration plus the fields
/// that build the vision side.
///
/// ```swift
/// let configuration = try MiniGeminiConfiguration(contentsOf: checkpoint.appending(path: "config.json"))
/// configuration.visionTower        // "model_zoo/OpenAI/clip-vit-large-patch14-336"
/// configuration.imageGrid          // 2 for the HD releases
/// ```
public struct MiniGeminiConfiguration: Sendable {
    /// The language model (`model_type` `mgm`, `mgm_gemma`, `mgm_mixtral`, or a plain HF type).
    public var decoder: DecoderConfiguration
    /// `mm_vision_tower`: the CLIP folder, as the training machine named it.
    public var visionTower: String
    /// `mm_vision_tower_aux`: the OpenCLIP ConvNeXt folder, or `nil` for a model without the
    /// high-resolution branch (LR tokens go straight to the projector).
    public var visionTowerAux: String?
    /// `mm_hidden_size`: the CLIP token width, if stated.
    public var lowResolutionWidth: Int?
    /// `mm_hidden_size_aux`: the fused ConvNeXt map's channels, if stated.
    public var highResolutionWidth: Int?
    /// `image_size_aux`: the HR side (768, or 1536 for HD); `nil` without the HR branch.
    public var imageSizeAux: Int?
    /// `image_grid`: LR views per side (1, or 2 for HD).
    public var imageGrid: Int
    /// `image_global`: whether the HD layout adds a global view.
    public var imageGlobal: Bool
    /// `mm_projector_type` (`mlp2x_gelu` in every release).
    public var projectorType: String
    /// `mm_vision_select_layer` (−2).
    public var visionSelectLayer: Int
    /// `mm_vision_select_feature` (`patch`).
    public var visionSelectFeature: String
    /// `image_aspect_ratio` (`pad`).
    public var imageAspectRatio: String
    /// `mm_use_im_start_end` (false in every release; not supported when true).
    public var usesImageStartEnd: Bool
    /// `tokenizer_model_max_length`: the training truncation length, if stated.
    public var tokenizerMaximumLength: Int?

    /// Decodes `config.json` bytes.
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - path: names the file in errors.
    /// - Throws: ``MiniGeminiError/invalidConfiguration(path:reason:)`` for malformed JSON, a
    ///   missing `mm_vision_tower`, an unsupported setting or an impossible size;
    ///   ``MiniGeminiError/language(_:)`` for the language model's part.
    public init(jsonData data: Data, path: String = "config.json") throws(MiniGeminiError) {
        struct Fields: Decodable {
            var mm_vision_tower: String?
            var mm_vision_tower_aux: String?
            var mm_hidden_size: Int?
            var mm_hidden_size_aux: Int?
            var image_size_aux: Int?
            var image_grid: Int?
            var image_global: Bool?
            var mm_projector_type: String?
            var mm_vision_select_layer: Int?
            var mm_vision_select_feature: String?
            var image_aspect_ratio: String?
            var mm_use_im_start_end: Bool?
            var tokenizer_model_max_length: Int?
        }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: data)
        } catch {
            throw .invalidConfiguration(path: path, reason: "\(error)")
        }
        do {
            decoder = try DecoderConfiguration(jsonData: data)
        } catch {
            throw .language(error)
        }
        guard let tower = fields.mm_vision_tower, !tower.isEmpty else {
            throw .invalidConfiguration(path: path, reason: "no mm_vision_tower: not a multimodal (Mini-Gemini) checkpoint")
        }
        visionTower = tower
        visionTowerAux = fields.mm_vision_tower_aux.flatMap { $0.isEmpty ? nil : $0 }
        lowResolutionWidth = fields.mm_hidden_size
        highResolutionWidth = fields.mm_hidden_size_aux
        imageSizeAux = fields.image_size_aux
        imageGrid = fields.image_grid ?? 1
        imageGlobal = fields.image_global ?? false
        projectorType = fields.mm_projector_type ?? "linear"
        visionSelectLayer = fields.mm_vision_select_layer ?? -2
        visionSelectFeature = fields.mm_vision_select_feature ?? "patch"
        imageAspectRatio = fields.image_aspect_ratio ?? "pad"
        usesImageStartEnd = fields.mm_use_im_start_end ?? false
        tokenizerMaximumLength = fields.tokenizer_model_max_length
        try validate(path: path)
    }

    /// Reads and decodes a `config.json` file.
    /// - Throws: ``MiniGeminiError/missingFile(path:)`` when it does not exist, else as
    ///   ``init(jsonData:path:)``.
    public init(contentsOf url: URL) throws(MiniGeminiError) {
        guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .invalidConfiguration(path: url.path, reason: error.localizedDescription)
        }
        try self.init(jsonData: data, path: url.path)
    }

    /// Whether the model has the high-resolution branch (ConvNeXt + patch info mining).
    public var hasHighResolutionBranch: Bool { visionTowerAux != nil }

    private func validate(path: String) throws(MiniGeminiError) {
        func fail(_ reason: String) -> MiniGeminiError { .invalidConfiguration(path: path, reason: reason) }
        guard (1...8).contains(imageGrid) else { throw fail("image_grid \(imageGrid) is outside 1...8") }
        if imageGlobal && imageGrid < 2 { throw fail("image_global needs image_grid ≥ 2") }
        if hasHighResolutionBranch {
            guard let side = imageSizeAux, (1...8192).contains(side) else {
                throw fail("mm_vision_tower_aux is set but image_size_aux is missing or outside 1...8192")
            }
        }
        guard ["patch", "cls_patch"].contains(visionSelectFeature) else {
            throw fail("mm_vision_select_feature '\(visionSelectFeature)' (known: patch, cls_patch)")
        }
        guard imageAspectRatio == "pad" else {
            throw fail("image_aspect_ratio '\(imageAspectRatio)' is not supported (every release uses pad)")
        }
        guard !usesImageStartEnd else { throw fail("mm_use_im_start_end = true is not supported (no release uses it)") }
    }
}
