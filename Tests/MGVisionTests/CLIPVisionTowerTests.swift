import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// The CLIP tower against transformers' `CLIPVisionModel` with random weights
/// (Tools/goldens/vision_towers.py: 4 layers, width 32, 4 heads, 56×56 images, 14×14 patches).
/// Tolerance: relative error ≤ 1e-4 (GEMM + attention accumulation order).
@Suite struct CLIPVisionTowerTests {
    static let tolerance: Float = 1e-4
    static let configuration = CLIPVisionConfiguration(
        hiddenSize: 32, intermediateSize: 80, hiddenLayerCount: 4, attentionHeadCount: 4, imageSize: 56, patchSize: 14)

    static func pixels() throws -> Tensor {
        try DeterministicData.tensor(seed: 301, shape: [2, 3, 56, 56], low: -2, high: 2)
    }

    /// Hidden state `index` of the golden (0 = embeddings), `[N, T, C]`.
    static func expectedState(_ golden: TowerGolden, _ index: Int) throws -> [Float] {
        try golden.tensor("expected.hidden_states").row(index).floats()
    }

    @Test func configurationMatchesGoldenMetadata() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let json = try #require(golden.file.metadata["config"])
        #expect(try CLIPVisionConfiguration(jsonData: Data(json.utf8)) == Self.configuration)
    }

    /// Every `mm_vision_select_layer` from −5 (the embeddings) to −1 (the last layer).
    @Test(arguments: [-1, -2, -3, -5, 2])
    func selectedHiddenStateMatchesTransformers(selectLayer: Int) throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let tower = try CLIPVisionTower(
            configuration: Self.configuration, weights: golden.file, selectLayer: selectLayer, featureSelection: .classAndPatch)
        let index = selectLayer < 0 ? 5 + selectLayer : selectLayer
        #expect(tower.selectedHiddenState == index)
        let output = try tower.encode(Self.pixels())
        #expect(output.shape == [2, 17, 32])
        let error = relativeError(output.floats(), try Self.expectedState(golden, index))
        #expect(error <= Self.tolerance, "hidden_states[\(selectLayer)]: relative error \(error)")
    }

    @Test func patchFeaturesDropTheClassToken() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let tower = try CLIPVisionTower(configuration: Self.configuration, weights: golden.file)
        #expect(tower.tokenCount == 16 && tower.tokenSize == 32 && tower.imageSize == 56)
        let output = try tower.encode(Self.pixels())
        #expect(output.shape == [2, 16, 32])
        let full = try golden.tensor("expected.hidden_states").row(3)  // [2, 17, 32]
        let expected = try slice(full, axis: 1, range: 1..<17).floats()
        #expect(relativeError(output.floats(), expected) <= Self.tolerance)
    }

    /// BF16 weights stay BF16 (widened inside the GEMMs); the reference ran the same rounded
    /// weights in float32.
    @Test func bf16WeightsMatchRoundedReference() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names where name.hasPrefix("vision_model.") {
            tensors[name] = try golden.tensor(name).converted(to: .bf16)
        }
        let tower = try CLIPVisionTower(
            configuration: Self.configuration, weights: MemoryWeightStore(tensors), featureSelection: .classAndPatch)
        #expect(tower.layers[0].qkvWeight.dtype == .bf16 && tower.layers[0].fc2Weight.dtype == .bf16)
        let output = try tower.encode(Self.pixels())
        let expected = try golden.tensor("expected.bf16_select_m2").floats()
        #expect(relativeError(output.floats(), expected) <= Self.tolerance)
    }

    /// Mini-Gemini's shards hold the same tensors under `model.vision_tower.vision_tower.vision_model.`.
    @Test func loadsMiniGeminiShardPrefix() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let store = try MemoryWeightStore(
            renaming: golden.file, from: CLIPVisionTower.huggingFacePrefix, to: CLIPVisionTower.miniGeminiPrefix,
            extra: ["model.layers.0.mlp.up_proj.weight": Tensor.zeros([2, 2])])
        let tower = try CLIPVisionTower(configuration: Self.configuration, weights: store, prefix: CLIPVisionTower.miniGeminiPrefix)
        let output = try tower.encode(Self.pixels())
        let full = try golden.tensor("expected.hidden_states").row(3)
        #expect(relativeError(output.floats(), try slice(full, axis: 1, range: 1..<17).floats()) <= Self.tolerance)
    }

    @Test func decodesFullCLIPModelConfigWithDefaults() throws {
        let json = #"""
            {"architectures": ["CLIPModel"], "projection_dim": 768,
             "text_config": {"hidden_size": 768},
             "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                               "num_hidden_layers": 24, "image_size": 336, "patch_size": 14}}
            """#
        let configuration = try CLIPVisionConfiguration(jsonData: Data(json.utf8))
        #expect(configuration == .vitLarge14x336)
        #expect(configuration.hiddenActivation == "quick_gelu" && configuration.layerNormEpsilon == 1e-5)
        #expect(configuration.patchCount == 576 && configuration.headSize == 64)
        let bare = try CLIPVisionConfiguration(jsonData: Data(#"{"model_type": "clip_vision_model", "patch_size": 16}"#.utf8))
        #expect(bare.patchSize == 16 && bare.hiddenSize == 768)
    }

    @Test func rejectsImpossibleConfigurations() {
        #expect(throws: VisionError.self) {
            try CLIPVisionConfiguration(jsonData: Data(#"{"hidden_size": 30, "num_attention_heads": 4}"#.utf8))
        }
        #expect(throws: VisionError.self) {
            try CLIPVisionConfiguration(jsonData: Data(#"{"image_size": 50, "patch_size": 14}"#.utf8))
        }
        #expect(throws: VisionError.unsupportedActivation("relu")) {
            try CLIPVisionConfiguration(jsonData: Data(#"{"hidden_act": "relu"}"#.utf8))
        }
        #expect(throws: VisionError.self) { try CLIPVisionConfiguration(jsonData: Data("{".utf8)) }
    }

    @Test func rejectsSelectLayerOutsideHiddenStates() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        #expect(throws: VisionError.self) {
            try CLIPVisionTower(configuration: Self.configuration, weights: golden.file, selectLayer: -6)
        }
        #expect(throws: VisionError.self) {
            try CLIPVisionTower(configuration: Self.configuration, weights: golden.file, selectLayer: 5)
        }
    }

    @Test func rejectsWrongInputShapes() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let tower = try CLIPVisionTower(configuration: Self.configuration, weights: golden.file)
        for shape in [[1, 3, 56, 57], [1, 1, 56, 56], [3, 56, 56], [0, 3, 56, 56]] {
            #expect(throws: VisionError.invalidInput(expected: "[N, 3, 56, 56]", actual: shape)) {
                try tower.encode(Tensor.zeros(shape))
            }
        }
    }

    @Test func reportsCheckpointMismatches() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names where name.hasPrefix("vision_model.") { tensors[name] = try golden.tensor(name) }

        var missing = tensors
        missing["vision_model.encoder.layers.1.mlp.fc1.bias"] = nil
        #expect(throws: VisionError.missingWeight("vision_model.encoder.layers.1.mlp.fc1.bias")) {
            try CLIPVisionTower(configuration: Self.configuration, weights: MemoryWeightStore(missing))
        }
        // The last layer is never evaluated at select layer −2, so its tensors are not even read.
        var lastLayerMissing = tensors
        lastLayerMissing["vision_model.encoder.layers.3.mlp.fc1.bias"] = nil
        _ = try CLIPVisionTower(configuration: Self.configuration, weights: MemoryWeightStore(lastLayerMissing))

        var reshaped = tensors
        reshaped["vision_model.embeddings.position_embedding.weight"] = try Tensor.zeros([16, 32])
        #expect(throws: VisionError.weightShape(
            name: "vision_model.embeddings.position_embedding.weight", expected: [17, 32], actual: [16, 32])) {
            try CLIPVisionTower(configuration: Self.configuration, weights: MemoryWeightStore(reshaped))
        }

        var extra = tensors
        extra["vision_model.encoder.layers.4.mlp.fc1.bias"] = try Tensor.zeros([80])
        extra["vision_model.embeddings.position_ids"] = try Tensor.zeros([1, 17])
        #expect(throws: VisionError.unusedWeights(["vision_model.encoder.layers.4.mlp.fc1.bias"])) {
            try CLIPVisionTower(configuration: Self.configuration, weights: MemoryWeightStore(extra))
        }
    }
}
