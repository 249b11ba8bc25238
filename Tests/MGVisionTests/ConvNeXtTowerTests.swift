import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// The ConvNeXt tower against timm's ConvNeXt trunk (eval mode) and MGM's stage fusion, with random
/// weights (Tools/goldens/vision_towers.py: widths 16/24/32/48, depths 1/1/2/1, 64×64 images).
/// Tolerance: relative error ≤ 1e-4 (GEMM and convolution accumulation order).
@Suite struct ConvNeXtTowerTests {
    static let tolerance: Float = 1e-4
    static let configuration = ConvNeXtConfiguration(depths: [1, 1, 2, 1], widths: [16, 24, 32, 48])

    static func pixels() throws -> Tensor {
        try DeterministicData.tensor(seed: 401, shape: [2, 3, 64, 64], low: -2, high: 2)
    }

    @Test func stageOutputsMatchTimm() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let tower = try ConvNeXtTower(configuration: Self.configuration, weights: golden.file)
        let stages = try tower.stageOutputs(Self.pixels())
        #expect(stages.map(\.shape) == [[2, 16, 16, 16], [2, 24, 8, 8], [2, 32, 4, 4], [2, 48, 2, 2]])
        for (index, stage) in stages.enumerated() {
            let error = relativeError(stage.floats(), try golden.tensor("expected.stage\(index)").floats())
            #expect(error <= Self.tolerance, "stage \(index): relative error \(error)")
        }
    }

    /// Large inputs run each block's MLP in chunks of pixels; tiny chunks exercise that path here
    /// (stage 0: 512 pixels in 6 chunks of 86, the last one 82; stage 1: 2 chunks).
    @Test func chunkedMLPMatchesTimm() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let tower = try ConvNeXtTower(
            configuration: Self.configuration, weights: golden.file, layout: .openCLIP(), mlpChunkFloats: 6400)
        let stages = try tower.stageOutputs(Self.pixels())
        for (index, stage) in stages.enumerated() {
            let error = relativeError(stage.floats(), try golden.tensor("expected.stage\(index)").floats())
            #expect(error <= Self.tolerance, "stage \(index): relative error \(error)")
        }
    }

    @Test func fusedMapMatchesMiniGeminiBackbone() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let tower = try ConvNeXtTower(configuration: Self.configuration, weights: golden.file)
        #expect(tower.channels == 120 && tower.featureStride == 4)
        let map = try tower.encode(Self.pixels())
        #expect(map.shape == [2, 120, 16, 16])
        let actual = try sampled(map, at: golden.tensor("expected.fused_indices"))
        #expect(relativeError(actual, try golden.tensor("expected.fused_values").floats()) <= Self.tolerance)

        let wide = try DeterministicData.tensor(seed: 402, shape: [1, 3, 64, 96], low: -2, high: 2)
        let wideMap = try tower.encode(wide)
        #expect(wideMap.shape == [1, 120, 16, 24])
        let wideActual = try sampled(wideMap, at: golden.tensor("expected.wide_indices"))
        #expect(relativeError(wideActual, try golden.tensor("expected.wide_values").floats()) <= Self.tolerance)
    }

    /// BF16 checkpoints keep BF16 weights (gamma applied after fc2 instead of folded into it).
    @Test func bf16WeightsMatchRoundedReference() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names where name.hasPrefix("visual.") { tensors[name] = try golden.tensor(name).converted(to: .bf16) }
        let tower = try ConvNeXtTower(configuration: Self.configuration, weights: MemoryWeightStore(tensors))
        let map = try tower.encode(Self.pixels())
        let actual = try sampled(map, at: golden.tensor("expected.fused_indices"))
        #expect(relativeError(actual, try golden.tensor("expected.bf16_fused_values").floats()) <= Self.tolerance)
    }

    /// Mini-Gemini's shards name the trunk's parts `vision_stem` and `vision_stages`.
    @Test func loadsMiniGeminiShardLayout() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names {
            if name.hasPrefix("visual.trunk.stem.") {
                tensors["model.vision_tower_aux.vision_stem." + name.dropFirst("visual.trunk.stem.".count)] = try golden.tensor(name)
            } else if name.hasPrefix("visual.trunk.stages.") {
                tensors["model.vision_tower_aux.vision_stages." + name.dropFirst("visual.trunk.stages.".count)] = try golden.tensor(name)
            }
        }
        let layout = ConvNeXtWeightLayout.miniGemini()
        #expect(layout.stemPrefix == "model.vision_tower_aux.vision_stem.")
        let tower = try ConvNeXtTower(configuration: Self.configuration, weights: MemoryWeightStore(tensors), layout: layout)
        let stages = try tower.stageOutputs(Self.pixels())
        #expect(relativeError(stages[3].floats(), try golden.tensor("expected.stage3").floats()) <= Self.tolerance)
    }

    @Test func configurationsByName() throws {
        let large = try ConvNeXtConfiguration(named: "convnext_large_d_320")
        #expect(large == .large && large.fusedChannels == 2880 && large.normEpsilon == 1e-6)
        let base = try ConvNeXtConfiguration(named: "convnext_base_w_320")
        #expect(base.widths == [128, 256, 512, 1024] && base.depths == [3, 3, 27, 3])
        let xxlarge = try ConvNeXtConfiguration(named: "convnext_xxlarge")
        #expect(xxlarge.widths == [384, 768, 1536, 3072] && xxlarge.depths == [3, 4, 30, 3] && xxlarge.normEpsilon == 1e-5)
        #expect(throws: VisionError.unknownModel("convnext_huge")) { try ConvNeXtConfiguration(named: "convnext_huge") }

        let directory = "openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup"
        #expect(ConvNeXtConfiguration.miniGeminiModelName(forDirectory: directory) == "convnext_large_d_320")
        #expect(ConvNeXtConfiguration.miniGeminiModelName(forDirectory: "CLIP-convnext_base_w-320") == "convnext_base_w_320")
        #expect(ConvNeXtConfiguration.miniGeminiModelName(forDirectory: "clip-vit-large") == nil)
    }

    @Test func decodesOpenCLIPConfigFile() throws {
        let json = #"""
            {"model_cfg": {"embed_dim": 768,
                           "vision_cfg": {"timm_model_name": "convnext_large", "timm_model_pretrained": false,
                                          "timm_pool": "", "timm_proj": "mlp", "timm_drop": 0.0,
                                          "timm_drop_path": 0.1, "image_size": 320},
                           "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 16}},
             "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}}
            """#
        #expect(try ConvNeXtConfiguration(openCLIPConfigData: Data(json.utf8)) == .large)
        let bare = #"{"vision_cfg": {"timm_model_name": "convnext_xxlarge"}}"#
        #expect(try ConvNeXtConfiguration(openCLIPConfigData: Data(bare.utf8)).widths[0] == 384)
        #expect(throws: VisionError.self) {
            try ConvNeXtConfiguration(openCLIPConfigData: Data(#"{"model_cfg": {"vision_cfg": {"layers": 12}}}"#.utf8))
        }
        #expect(throws: VisionError.unknownModel("vit_large_patch14_clip_336")) {
            try ConvNeXtConfiguration(openCLIPConfigData: Data(#"{"vision_cfg": {"timm_model_name": "vit_large_patch14_clip_336"}}"#.utf8))
        }
    }

    @Test func rejectsWrongInputShapes() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let tower = try ConvNeXtTower(configuration: Self.configuration, weights: golden.file)
        #expect(tower.minimumImageSize == 32)
        for shape in [[1, 3, 16, 64], [1, 4, 64, 64], [3, 64, 64], [0, 3, 64, 64]] {
            #expect(throws: VisionError.self) { try tower.encode(Tensor.zeros(shape)) }
        }
    }

    @Test func reportsCheckpointMismatches() throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        var tensors = [String: Tensor]()
        for name in golden.file.names where name.hasPrefix("visual.") { tensors[name] = try golden.tensor(name) }

        var missing = tensors
        missing["visual.trunk.stages.2.blocks.1.gamma"] = nil
        #expect(throws: VisionError.missingWeight("visual.trunk.stages.2.blocks.1.gamma")) {
            try ConvNeXtTower(configuration: Self.configuration, weights: MemoryWeightStore(missing))
        }
        let deeper = ConvNeXtConfiguration(depths: [1, 1, 1, 1], widths: [16, 24, 32, 48])
        let error = #expect(throws: VisionError.self) { try ConvNeXtTower(configuration: deeper, weights: golden.file) }
        guard case .unusedWeights(let names)? = error else {
            Issue.record("expected unusedWeights, got \(String(describing: error))")
            return
        }
        #expect(!names.isEmpty && names.allSatisfy { $0.hasPrefix("visual.trunk.stages.2.blocks.1.") })
        let wider = ConvNeXtConfiguration(depths: [1, 1, 2, 1], widths: [16, 24, 32, 64])
        #expect(throws: VisionError.weightShape(name: "visual.trunk.stages.3.downsample.1.weight", expected: [64, 32, 2, 2], actual: [48, 32, 2, 2])) {
            try ConvNeXtTower(configuration: wider, weights: golden.file)
        }
    }
}
