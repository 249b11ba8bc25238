import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// Tower architectures read from tensor names and shapes (for configurations that name a model
/// the built-in tables lack), and the typed error when a configuration and its weights disagree.
@Suite struct TowerArchitectureTests {
    @Test("ConvNeXt depths, widths and linear MLP read from the timm golden's weights")
    func convNeXtFromWeights() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let inferred = try ConvNeXtConfiguration(inferringFrom: golden.file)
        #expect(inferred == ConvNeXtTowerTests.configuration)
        // The inferred architecture runs the tower to the same timm reference.
        let tower = try ConvNeXtTower(configuration: inferred, weights: golden.file)
        let stages = try tower.stageOutputs(ConvNeXtTowerTests.pixels())
        for (index, stage) in stages.enumerated() {
            let error = relativeError(stage.floats(), try golden.tensor("expected.stage\(index)").floats())
            #expect(error <= ConvNeXtTowerTests.tolerance, "stage \(index): relative error \(error)")
        }
    }

    @Test("an unlisted model name reads the weights; a listed one that disagrees is a typed error")
    func convNeXtResolve() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let unlisted = try ConvNeXtConfiguration.resolve(modelName: "convnext_custom_test", weights: golden.file)
        #expect(unlisted.configuration == ConvNeXtTowerTests.configuration)
        #expect(unlisted.source == .weights(reason: "model name 'convnext_custom_test' is not in the built-in table"))
        let absent = try ConvNeXtConfiguration.resolve(modelName: nil, weights: golden.file)
        #expect(absent.configuration == ConvNeXtTowerTests.configuration)
        #expect(throws: VisionError.architectureMismatch(field: "depths", configured: "[3, 3, 9, 3]", weights: "[1, 1, 2, 1]")) {
            try ConvNeXtConfiguration.resolve(modelName: "convnext_tiny", weights: golden.file)
        }
    }

    @Test("conv MLP form (timm conv_mlp) and the MLP ratio come from fc1's shape")
    func convNeXtConvolutionalMLP() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names where name.hasPrefix("visual.trunk.") {
            let tensor = try golden.tensor(name)
            let isMLPWeight = name.hasSuffix("mlp.fc1.weight") || name.hasSuffix("mlp.fc2.weight")
            tensors[name] = isMLPWeight ? try tensor.reshapedOrThrow(tensor.shape + [1, 1]) : tensor
        }
        let store = MemoryWeightStore(tensors)
        let inferred = try ConvNeXtConfiguration(inferringFrom: store)
        #expect(inferred.convolutionalMLP && inferred.mlpRatio == 4 && inferred.depths == [1, 1, 2, 1])
        var linear = inferred
        linear.convolutionalMLP = false
        #expect(throws: VisionError.architectureMismatch(field: "MLP form", configured: "linear", weights: "conv")) {
            try linear.checkAgrees(with: inferred)
        }
        // The conv form loads and computes the same stage outputs.
        let stages = try ConvNeXtTower(configuration: inferred, weights: store).stageOutputs(ConvNeXtTowerTests.pixels())
        let error = relativeError(try #require(stages.last).floats(), try golden.tensor("expected.stage3").floats())
        #expect(error <= ConvNeXtTowerTests.tolerance)
    }

    @Test("weights without a ConvNeXt trunk and no usable name: a typed error")
    func convNeXtNotInferable() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        #expect {
            try ConvNeXtConfiguration.resolve(modelName: "vit_custom", weights: golden.file)
        } throws: { error in
            guard case VisionError.architectureNotInferable(let reason) = error else { return false }
            return reason.contains("vit_custom") && reason.contains("visual.trunk.stem.0.weight")
        }
    }

    @Test("CLIP sizes read from the weights; heads from the configuration")
    func clipFromWeights() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let expected = CLIPVisionTowerTests.configuration
        let inferred = try CLIPVisionConfiguration(inferringFrom: golden.file, attentionHeadCount: expected.attentionHeadCount)
        #expect(inferred == expected)
        // 32-wide tokens are not a whole number of the conventional 64-wide heads.
        #expect {
            try CLIPVisionConfiguration(inferringFrom: golden.file)
        } throws: { error in
            guard case VisionError.architectureNotInferable(let reason) = error else { return false }
            return reason.contains("num_attention_heads")
        }
        var wrong = expected
        wrong.intermediateSize = 64
        #expect(throws: VisionError.architectureMismatch(field: "intermediate_size", configured: "64", weights: "80")) {
            try CLIPVisionConfiguration.resolve(configuration: wrong, weights: golden.file)
        }
        let resolved = try CLIPVisionConfiguration.resolve(configuration: expected, weights: golden.file)
        #expect(resolved.configuration == expected && resolved.source == .configuration("config.json"))
    }

    @Test("CLIP ViT-L/14-336 sizes from the tensor shapes alone, heads by the 64-wide rule")
    func clipLargeFromShapes() throws {
        let prefix = CLIPVisionTower.miniGeminiPrefix
        var tensors: [String: Tensor] = [
            prefix + "embeddings.patch_embedding.weight": try Tensor.zeros([1024, 3, 14, 14]),
            prefix + "embeddings.position_embedding.weight": try Tensor.zeros([577, 1024]),
            prefix + "encoder.layers.0.mlp.fc1.weight": try Tensor.zeros([4096, 1024]),
        ]
        for layer in 0..<24 { tensors[prefix + "encoder.layers.\(layer).layer_norm1.weight"] = try Tensor.zeros([1024]) }
        let inferred = try CLIPVisionConfiguration(inferringFrom: MemoryWeightStore(tensors), prefix: prefix)
        #expect(inferred == .vitLarge14x336)
    }
}
