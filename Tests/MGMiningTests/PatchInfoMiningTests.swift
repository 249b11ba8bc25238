import Foundation
import MGMining
import MGTensor
import MGTestSupport
import Testing

/// Patch info mining against the official `unified_resampler` re-stated in PyTorch
/// (Tools/goldens/mining.py). Inputs and weights are regenerated bit-exactly from their seeds.
@Suite struct PatchInfoMiningTests {
    struct Config: Decodable {
        let tokens_side: Int, block: Int, dim: Int, dim_aux: Int, seed: Int
        let batch: Int?
    }

    static func projection(seed: UInt64, input: Int, output: Int, weightScale: Float) throws -> NormalizedProjection {
        try NormalizedProjection(
            normWeight: DeterministicData.tensor(seed: seed, shape: [input], low: 0.5, high: 1.5),
            normBias: DeterministicData.tensor(seed: seed + 1, shape: [input], low: -0.5, high: 0.5),
            weight: DeterministicData.tensor(seed: seed + 2, shape: [output, input], low: -weightScale, high: weightScale),
            bias: DeterministicData.tensor(seed: seed + 3, shape: [output], low: -0.125, high: 0.125))
    }

    static func miner(_ config: Config) throws -> PatchInfoMining {
        let seed = UInt64(config.seed)
        return try PatchInfoMining(
            query: projection(seed: seed + 10, input: config.dim, output: config.dim, weightScale: 0x1p-5),
            key: projection(seed: seed + 20, input: config.dim_aux, output: config.dim, weightScale: 0x1p-6),
            value: projection(seed: seed + 30, input: config.dim_aux, output: config.dim, weightScale: 0x1p-6))
    }

    @Test(arguments: ["mining_tiny", "mining_clip_convnext"])
    func matchesOfficialResampler(_ name: String) throws {
        let golden = try Golden(name, bundle: .module)
        let config: Config = try golden.meta("config")
        let batch = config.batch ?? 1
        let side = config.tokens_side * config.block
        let seed = UInt64(config.seed)
        let tokens = try DeterministicData.tensor(seed: seed, shape: [batch, config.tokens_side * config.tokens_side, config.dim], low: -2, high: 2)
        let map = try DeterministicData.tensor(seed: seed + 1, shape: [batch, config.dim_aux, side, side], low: -2, high: 2)

        let result = try Self.miner(config).mineRecordingLogits(tokens: tokens, highResolutionMap: map, recordLogits: true)
        #expect(result.mined.shape == [batch, config.tokens_side * config.tokens_side, config.dim])
        let mined = try sampled(result.mined, at: golden.tensor("mined_indices"))
        #expect(relativeError(mined, try golden.tensor("mined_values").floats()) <= 1e-4)
        let logits = try sampled(try #require(result.logits), at: golden.tensor("logits_indices"))
        #expect(relativeError(logits, try golden.tensor("logits_values").floats()) <= 1e-5)
    }

    @Test func hdLayoutMatchesOfficialEncodeImages() throws {
        let golden = try Golden("mining_hd", bundle: .module)
        let config: Config = try golden.meta("config")
        let seed = UInt64(config.seed)
        let t = config.tokens_side * config.tokens_side
        let side = config.tokens_side * config.block * 2
        let local = DeterministicData.uniform(seed: seed, count: 4 * t * config.dim, low: -2, high: 2)
        let global = DeterministicData.uniform(seed: seed + 2, count: t * config.dim, low: -2, high: 2)
        // Official CLIP batch order: crops first, then the global view.
        let tokens = try Tensor(shape: [5, t, config.dim], values: local + global)
        let map = try DeterministicData.tensor(seed: seed + 1, shape: [1, config.dim_aux, side, side], low: -2, high: 2)
        let fuser = try VisualTokenFuser(miner: Self.miner(config), grid: 2, hasGlobalView: true)
        let fused = try fuser.fuse(tokens: tokens, highResolutionMap: map)
        let expected = try golden.tensor("fused")
        #expect(fused.shape == expected.shape)
        #expect(relativeError(fused.floats(), expected.floats()) <= 1e-4)
    }

    @Test func projectorMatchesOfficialMLP() throws {
        let golden = try Golden("projector_mlp2x_gelu", bundle: .module)
        let projector = try MultimodalProjector(type: "mlp2x_gelu", from: golden.file)
        #expect(projector.inputSize == 64 && projector.outputSize == 96)
        let projected = try projector(golden.tensor("features"))
        let expected = try golden.tensor("projected")
        #expect(projected.shape == expected.shape)
        #expect(relativeError(projected.floats(), expected.floats()) <= 1e-5)
    }

    @Test func rejectsBadInputs() throws {
        let config = Config(tokens_side: 2, block: 2, dim: 8, dim_aux: 12, seed: 1, batch: 1)
        let miner = try Self.miner(config)
        let map = try Tensor.zeros([1, 12, 4, 4])
        #expect(throws: MiningError.tokensNotSquare(count: 3)) {
            try miner.mine(tokens: Tensor.zeros([1, 3, 8]), highResolutionMap: map)
        }
        #expect(throws: MiningError.blockMismatch(tokensPerSide: 2, mapHeight: 4, mapWidth: 5)) {
            try miner.mine(tokens: Tensor.zeros([1, 4, 8]), highResolutionMap: Tensor.zeros([1, 12, 4, 5]))
        }
        #expect(throws: MiningError.self) {
            try miner.mine(tokens: Tensor.zeros([1, 4, 9]), highResolutionMap: map)
        }
        let golden = try Golden("projector_mlp2x_gelu", bundle: .module)
        #expect(throws: MiningError.unknownProjectorType("mlp2x_relu")) {
            try MultimodalProjector(type: "mlp2x_relu", from: golden.file)
        }
        #expect(throws: MiningError.missingWeight("model.mm_projector.4.weight")) {
            try MultimodalProjector(type: "mlp3x_gelu", from: golden.file)
        }
    }


}
