import Foundation
import MGMining
import MGTensor
import MGTestSupport
import Testing

/// Mining in the bf16 vision mode (`precision: .bfloat16Activations`, what
/// `MiniGeminiLoadOptions.visionPrecision = .bfloat16` selects) against the official resampler's
/// goldens. The error comes from rounding the three product weights and their activations to bf16
/// (2⁻⁹ relative each), so the bound is loose; a second check asserts the mode really ran (an error
/// above the F32 parity tolerance of 1e-4, which bf16 weights cannot reach).
@Suite struct MiningPrecisionTests {
    /// Relative error (max |Δ| / max |expected|) allowed for the bf16 mode.
    static let bound: Float = 1e-2  // measured 2.1e-3 / 6.5e-4 (mining_clip_convnext / mining_tiny) at avx512bf16, 1.7e-3 / 6.6e-4 below it
    static let parityTolerance: Float = 1e-4

    @Test(arguments: ["mining_tiny", "mining_clip_convnext"])
    func bf16ModeStaysWithinBound(_ name: String) throws {
        let golden = try Golden(name, bundle: .module)
        let config: PatchInfoMiningTests.Config = try golden.meta("config")
        let batch = config.batch ?? 1
        let side = config.tokens_side * config.block
        let seed = UInt64(config.seed)
        let tokens = try DeterministicData.tensor(seed: seed, shape: [batch, config.tokens_side * config.tokens_side, config.dim], low: -2, high: 2)
        let map = try DeterministicData.tensor(seed: seed + 1, shape: [batch, config.dim_aux, side, side], low: -2, high: 2)
        let exact = try PatchInfoMiningTests.miner(config)
        #expect(exact.precision == .float32)
        let fast = try PatchInfoMining(query: exact.query, key: exact.key, value: exact.value, precision: .bfloat16Activations)
        #expect(fast.precision == .bfloat16Activations)

        let mined = try sampled(fast.mine(tokens: tokens, highResolutionMap: map), at: golden.tensor("mined_indices"))
        let error = relativeError(mined, try golden.tensor("mined_values").floats())
        print("[mining precision] \(name) bf16 relative error \(error) (tier \(KernelTier.active))")
        #expect(error <= Self.bound, "relative error \(error)")
        #expect(error > Self.parityTolerance, "bf16 mode matched F32 to \(error): the mode did not run")
    }
}
