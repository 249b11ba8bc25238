import Foundation
import MGTensor

// The CLIP vision transformer's sizes read from the Hugging Face tensor layout
// (transformers models/clip/modeling_clip.py): `embeddings.patch_embedding` is the patchify
// convolution, `embeddings.position_embedding` has one row per patch plus the class token,
// `encoder.layers.L.mlp.fc1` is the MLP's first Linear.

extension CLIPVisionConfiguration {
    /// The head width of OpenAI's CLIP ViTs (B/32, B/16, L/14, L/14-336), used when no
    /// configuration gives the head count: heads cannot be read from the weights because the
    /// query, key and value projections are stored as full `[hidden, hidden]` matrices.
    public static let conventionalHeadSize = 64

    /// The architecture the tensors under `prefix` describe.
    ///
    /// Read from the weights: hidden size, input channels and patch size (the patch convolution
    /// `[hidden, channels, p, p]`), image size (√(rows − 1) patches of the position table per
    /// side), layer count (the `encoder.layers.L` indices) and MLP width (`mlp.fc1.weight`). Not in
    /// the weights, so taken from the arguments: the head count (default hidden / 64, the OpenAI
    /// convention — OpenCLIP's ViT-H/g/bigG use wider heads and need it given), the LayerNorm
    /// epsilon and the activation (OpenAI CLIP's 1e-5 and `quick_gelu`).
    /// - Throws: ``VisionError/architectureNotInferable(_:)`` when a tensor the reading needs is
    ///   absent or has an impossible shape; ``VisionError/checkpoint(_:)``.
    public init(
        inferringFrom weights: some WeightStore, prefix: String = CLIPVisionTower.huggingFacePrefix, attentionHeadCount: Int? = nil,
        layerNormEpsilon: Float = 1e-5, hiddenActivation: String = "quick_gelu"
    ) throws(VisionError) {
        let shapes = WeightShapes(store: weights)
        let patch = try shapes.require(prefix + "embeddings.patch_embedding.weight", rank: 4)
        guard patch[2] == patch[3], patch.allSatisfy({ $0 > 0 }) else {
            throw .architectureNotInferable("\(prefix)embeddings.patch_embedding.weight has shape \(patch), expected a square kernel")
        }
        let hidden = patch[0]
        let positions = try shapes.require(prefix + "embeddings.position_embedding.weight", rank: 2)
        let patches = positions[0] - 1
        let grid = Int(Double(max(patches, 0)).squareRoot().rounded())
        guard patches > 0, grid * grid == patches, positions[1] == hidden else {
            throw .architectureNotInferable(
                "\(prefix)embeddings.position_embedding.weight has shape \(positions): not 1 + a square number of \(hidden)-wide rows")
        }
        let layersPrefix = prefix + "encoder.layers."
        let layers = shapes.count(under: layersPrefix)
        var intermediate = 4 * hidden
        if layers > 0 {
            let fc1 = try shapes.require(layersPrefix + "0.mlp.fc1.weight", rank: 2)
            intermediate = fc1[0]
        }
        let heads = attentionHeadCount ?? hidden / Self.conventionalHeadSize
        guard heads > 0, hidden % heads == 0 else {
            throw .architectureNotInferable(
                "hidden size \(hidden) is not a multiple of \(attentionHeadCount.map { "\($0) heads" } ?? "the conventional 64-wide heads"); give num_attention_heads in config.json")
        }
        let inferred = CLIPVisionConfiguration(
            hiddenSize: hidden, intermediateSize: intermediate, hiddenLayerCount: layers, attentionHeadCount: heads,
            channelCount: patch[1], imageSize: grid * patch[2], patchSize: patch[2], layerNormEpsilon: layerNormEpsilon,
            hiddenActivation: hiddenActivation)
        do {
            try inferred.validate()
        } catch {
            throw .architectureNotInferable("\(error)")
        }
        self = inferred
    }

    /// Checks that the weights describe this architecture (the head count, epsilon and activation
    /// have no tensor and are not compared).
    /// - Throws: ``VisionError/architectureMismatch(field:configured:weights:)`` naming the first
    ///   field that differs (`hidden_size`, `intermediate_size`, `num_hidden_layers`,
    ///   `num_channels`, `patch_size` or `image_size`).
    public func checkAgrees(with inferred: CLIPVisionConfiguration) throws(VisionError) {
        var comparison = ArchitectureComparison()
        comparison.compare("hidden_size", hiddenSize, inferred.hiddenSize)
        comparison.compare("intermediate_size", intermediateSize, inferred.intermediateSize)
        comparison.compare("num_hidden_layers", hiddenLayerCount, inferred.hiddenLayerCount)
        comparison.compare("num_channels", channelCount, inferred.channelCount)
        comparison.compare("patch_size", patchSize, inferred.patchSize)
        comparison.compare("image_size", imageSize, inferred.imageSize)
        try comparison.check()
    }

    /// The architecture of a CLIP tower from its `config.json` (when there is one) and its weights.
    ///
    /// With a configuration, its sizes must agree with the weights; without one, the sizes are read
    /// from the weights (``init(inferringFrom:prefix:attentionHeadCount:layerNormEpsilon:hiddenActivation:)``).
    /// - Parameters:
    ///   - configuration: the decoded `config.json`, or `nil` when the folder has none.
    ///   - weights: the tower's tensors, under `prefix`.
    ///   - prefix: the name prefix of the tower's tensors.
    /// - Throws: ``VisionError/architectureMismatch(field:configured:weights:)`` or
    ///   ``VisionError/architectureNotInferable(_:)``.
    public static func resolve(
        configuration: CLIPVisionConfiguration?, weights: some WeightStore, prefix: String = CLIPVisionTower.huggingFacePrefix
    ) throws(VisionError) -> (configuration: CLIPVisionConfiguration, source: TowerArchitectureSource) {
        if let configuration {
            // Weights without a readable layout are reported by the tower itself (missing weight).
            if let inferred = try? CLIPVisionConfiguration(
                inferringFrom: weights, prefix: prefix, attentionHeadCount: configuration.attentionHeadCount)
            {
                try configuration.checkAgrees(with: inferred)
            }
            return (configuration, .configuration("config.json"))
        }
        do {
            return (try CLIPVisionConfiguration(inferringFrom: weights, prefix: prefix), .weights(reason: "no config.json"))
        } catch .architectureNotInferable(let detail) {
            throw .architectureNotInferable("no config.json, and \(detail)")
        }
    }
}
