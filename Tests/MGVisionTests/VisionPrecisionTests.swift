import Foundation
import MGTensor
import MGTestSupport
import Testing

@testable import MGVision

/// The opt-in bf16 vision mode (``VisionPrecision/bfloat16``) against the F32 goldens of the tiny
/// towers (Tools/goldens/vision_towers.py). Its error comes from rounding the linear weights and
/// activations to bf16 (2⁻⁹ relative each), so the bound is loose — ``bound`` — and a second check
/// asserts the mode really ran (error above the F32 parity tolerance of 1e-4: bf16 weights cannot
/// reproduce F32 to that accuracy). The real-size error (ViT-L/14-336, ConvNeXt-L) is measured by
/// `MGTensorBenchmarks --filter vision-tiers` and stated in Documentation/Benchmarks.md.
@Suite struct VisionPrecisionTests {
    /// Relative error (max |Δ| / max |expected|) allowed for the bf16 mode on the tiny towers.
    static let bound: Float = 1e-2  // measured ≤ 5.3e-3 (avx512bf16: CLIP 5.3e-3, ConvNeXt stages 2.2–4.7e-3; avx2: CLIP 3.9e-3)
    static let parityTolerance: Float = 1e-4

    @Test func clipBF16ModeStaysWithinBound() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let tower = try CLIPVisionTower(
            configuration: CLIPVisionTowerTests.configuration, weights: golden.file, featureSelection: .classAndPatch,
            precision: .bfloat16)
        #expect(tower.precision == .bfloat16)
        #expect(tower.layers.allSatisfy { $0.qkvWeight.dtype == .bf16 && $0.fc1Weight.dtype == .bf16 && $0.fc2Weight.dtype == .bf16 })
        let output = try tower.encode(CLIPVisionTowerTests.pixels())
        let error = relativeError(output.floats(), try CLIPVisionTowerTests.expectedState(golden, 3))
        print("[vision precision] CLIP tiny bf16 relative error \(error) (tier \(KernelTier.active))")
        #expect(error <= Self.bound, "relative error \(error)")
        #expect(error > Self.parityTolerance, "bf16 mode matched F32 to \(error): the mode did not run")
    }

    @Test(arguments: [7 << 20, 6400])
    func convNeXtBF16ModeStaysWithinBound(mlpChunkFloats: Int) throws {
        let golden = try TowerGolden("tw_convnext_tiny", bundle: .module)
        let tower = try ConvNeXtTower(
            configuration: ConvNeXtTowerTests.configuration, weights: golden.file, layout: .openCLIP(),
            mlpChunkFloats: mlpChunkFloats, precision: .bfloat16)
        let blocks = tower.stages.flatMap(\.blocks)
        #expect(blocks.allSatisfy { $0.fc1Weight.dtype == .bf16 && $0.fc2Weight.dtype == .bf16 && $0.gamma == nil })
        let stages = try tower.stageOutputs(ConvNeXtTowerTests.pixels())
        var worst: Float = 0
        for (index, stage) in stages.enumerated() {
            let error = relativeError(stage.floats(), try golden.tensor("expected.stage\(index)").floats())
            print("[vision precision] ConvNeXt tiny bf16 stage \(index) relative error \(error) (tier \(KernelTier.active))")
            #expect(error <= Self.bound, "stage \(index): relative error \(error)")
            worst = max(worst, error)
        }
        #expect(worst > Self.parityTolerance, "bf16 mode matched F32 to \(worst): the mode did not run")
    }

    /// The default stays the exact path.
    @Test func defaultIsFloat32() throws {
        let golden = try TowerGolden("tw_clip_tiny", bundle: .module)
        let tower = try CLIPVisionTower(configuration: CLIPVisionTowerTests.configuration, weights: golden.file)
        #expect(tower.precision == .float32 && tower.layers[0].qkvWeight.dtype == .f32)
        #expect(VisionPrecision(rawValue: "bf16") == .bfloat16 && VisionPrecision(rawValue: "f32") == .float32)
    }
}
