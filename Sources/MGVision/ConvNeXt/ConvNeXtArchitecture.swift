import Foundation
import MGTensor

// The ConvNeXt trunk's architecture read from the timm/OpenCLIP tensor layout (timm/models/convnext.py):
// `stem.0` is the patchify convolution, `stages.S.downsample.1` the stride-2 convolution into
// stage S, `stages.S.blocks.B.mlp.fc1` the first MLP layer (Linear, or a 1×1 Conv2d with conv_mlp).

extension ConvNeXtConfiguration {
    /// The architecture the tensors under `layout` describe.
    ///
    /// Read from the weights: the stage count and depths (the `stages.S.blocks.B` indices), the
    /// widths (the stem convolution for stage 0, each downsample convolution after it), the input
    /// channels and stem patch size (the stem kernel), the depthwise kernel size, the MLP ratio and
    /// form (`mlp.fc1.weight` `[hidden, C]` for a Linear MLP, `[hidden, C, 1, 1]` for timm's
    /// `conv_mlp`). The LayerNorm epsilon has no tensor: it is that of the timm model with the same
    /// sizes when there is one (1e-5 for `convnext_xxlarge`), else timm's default 1e-6.
    /// - Throws: ``VisionError/architectureNotInferable(_:)`` when a tensor the reading needs is
    ///   absent or has an impossible shape; ``VisionError/checkpoint(_:)``.
    public init(inferringFrom weights: some WeightStore, layout: ConvNeXtWeightLayout = .openCLIP()) throws(VisionError) {
        let shapes = WeightShapes(store: weights)
        let stem = try shapes.require(layout.stemPrefix + "0.weight", rank: 4)
        guard stem[2] == stem[3], stem.allSatisfy({ $0 > 0 }) else {
            throw .architectureNotInferable("\(layout.stemPrefix)0.weight has shape \(stem), expected a square kernel")
        }
        let stageIndices = shapes.indices(under: layout.stagesPrefix)
        guard !stageIndices.isEmpty else { throw .architectureNotInferable("no tensors under \(layout.stagesPrefix)") }
        guard stageIndices == Array(0..<stageIndices.count) else {
            throw .architectureNotInferable("stage indices \(stageIndices) under \(layout.stagesPrefix) are not 0, 1, 2, …")
        }
        var depths: [Int] = [], widths: [Int] = []
        var firstBlock: (prefix: String, width: Int)?
        for stage in stageIndices {
            let prefix = layout.stagesPrefix + "\(stage)."
            let width: Int
            if stage == 0 {
                width = stem[0]
            } else {
                width = try shapes.require(prefix + "downsample.1.weight", rank: 4)[0]
            }
            let depth = shapes.count(under: prefix + "blocks.")
            if depth > 0, firstBlock == nil { firstBlock = (prefix + "blocks.0.", width) }
            depths.append(depth)
            widths.append(width)
        }
        var kernel = 7, ratio = 4, convolutional = false
        if let block = firstBlock {
            let depthwise = try shapes.require(block.prefix + "conv_dw.weight", rank: 4)
            kernel = depthwise[2]
            guard let fc1 = try shapes.shape(block.prefix + "mlp.fc1.weight"), fc1.count == 2 || fc1.count == 4 else {
                throw .architectureNotInferable("\(block.prefix)mlp.fc1.weight is absent or neither [hidden, C] nor [hidden, C, 1, 1]")
            }
            convolutional = fc1.count == 4
            guard fc1[0] > 0, fc1[0] % block.width == 0 else {
                throw .architectureNotInferable("\(block.prefix)mlp.fc1.weight has \(fc1[0]) outputs for width \(block.width), not a whole ratio")
            }
            ratio = fc1[0] / block.width
        }
        var inferred = ConvNeXtConfiguration(
            depths: depths, widths: widths, inputChannels: stem[1], stemPatchSize: stem[2], depthwiseKernelSize: kernel,
            mlpRatio: ratio, convolutionalMLP: convolutional)
        if let twin = Self.timmModels.values.first(where: { $0.sameWeightLayout(as: inferred) }) {
            inferred.normEpsilon = twin.normEpsilon
        }
        do {
            try inferred.validate()
        } catch {
            throw .architectureNotInferable("\(error)")
        }
        self = inferred
    }

    /// Whether the two have the same tensor shapes (everything but the norm epsilon).
    func sameWeightLayout(as other: ConvNeXtConfiguration) -> Bool {
        var copy = other
        copy.normEpsilon = normEpsilon
        return copy == self
    }

    /// Checks that the weights describe this architecture.
    /// - Throws: ``VisionError/architectureMismatch(field:configured:weights:)`` naming the first
    ///   field that differs (`stages`, `depths`, `widths`, `input channels`, `stem patch size`,
    ///   `depthwise kernel size`, `MLP ratio` or `MLP form`).
    public func checkAgrees(with inferred: ConvNeXtConfiguration) throws(VisionError) {
        var comparison = ArchitectureComparison()
        comparison.compare("stages", depths.count, inferred.depths.count)
        comparison.compare("depths", depths, inferred.depths)
        comparison.compare("widths", widths, inferred.widths)
        comparison.compare("input channels", inputChannels, inferred.inputChannels)
        comparison.compare("stem patch size", stemPatchSize, inferred.stemPatchSize)
        comparison.compare("depthwise kernel size", depthwiseKernelSize, inferred.depthwiseKernelSize)
        comparison.compare("MLP ratio", mlpRatio, inferred.mlpRatio)
        comparison.compare("MLP form", convolutionalMLP ? "conv" : "linear", inferred.convolutionalMLP ? "conv" : "linear")
        try comparison.check()
    }

    /// The timm model name an OpenCLIP `open_clip_config.json` (or bare OpenCLIP model config)
    /// names in `vision_cfg.timm_model_name`, or `nil` when it names none.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for malformed JSON.
    public static func timmModelName(openCLIPConfigData data: Data) throws(VisionError) -> String? {
        struct VisionConfig: Decodable {
            var timmModelName: String?
            enum CodingKeys: String, CodingKey { case timmModelName = "timm_model_name" }
        }
        struct ModelConfig: Decodable {
            var visionConfig: VisionConfig?
            enum CodingKeys: String, CodingKey { case visionConfig = "vision_cfg" }
        }
        struct File: Decodable {
            var modelConfig: ModelConfig?
            var visionConfig: VisionConfig?
            enum CodingKeys: String, CodingKey { case modelConfig = "model_cfg", visionConfig = "vision_cfg" }
        }
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            return (file.modelConfig?.visionConfig ?? file.visionConfig)?.timmModelName
        } catch {
            throw .invalidConfiguration(reason: "open_clip_config.json: \(error)")
        }
    }

    /// The architecture of an OpenCLIP ConvNeXt tower, from its model name and its weights.
    ///
    /// - A name the library knows (``init(named:)``) gives the architecture, which must agree with
    ///   the weights when they describe one.
    /// - An unknown or absent name: the architecture is read from the weights
    ///   (``init(inferringFrom:layout:)``).
    /// - Parameters:
    ///   - modelName: the timm/OpenCLIP model name of `open_clip_config.json` or the folder, if any.
    ///   - weights: the tower's tensors.
    ///   - layout: where the stem and stages sit in the checkpoint's names.
    /// - Returns: the configuration and where it came from.
    /// - Throws: ``VisionError/architectureMismatch(field:configured:weights:)`` when a known name
    ///   and the weights disagree; ``VisionError/architectureNotInferable(_:)`` when there is no
    ///   usable name and the weights do not describe a ConvNeXt trunk.
    public static func resolve(
        modelName: String?, weights: some WeightStore, layout: ConvNeXtWeightLayout = .openCLIP()
    ) throws(VisionError) -> (configuration: ConvNeXtConfiguration, source: TowerArchitectureSource) {
        if let modelName, let named = try? ConvNeXtConfiguration(named: modelName) {
            // Weights without a readable trunk are reported by the tower itself (missing weight).
            if let inferred = try? ConvNeXtConfiguration(inferringFrom: weights, layout: layout) {
                try named.checkAgrees(with: inferred)
            }
            return (named, .configuration(modelName))
        }
        let reason = modelName.map { "model name '\($0)' is not in the built-in table" } ?? "no model name"
        do {
            return (try ConvNeXtConfiguration(inferringFrom: weights, layout: layout), .weights(reason: reason))
        } catch .architectureNotInferable(let detail) {
            throw .architectureNotInferable("\(reason), and \(detail)")
        }
    }
}
