import MGTensor
import Testing

@Suite("Rotary position embedding")
struct RoPETests {
    /// transformers' LlamaRotaryEmbedding + apply_rotary_pos_emb on a small [1, 2, 5, 64] input;
    /// inv_freq must match bit for bit. Tolerance 1e-5.
    @Test func smallMatchesTransformers() throws {
        let golden = try Golden("pw_rope_small")
        let x = try golden.tensor("small.x")
        let positions = pointwiseIntegers(try golden.tensor("small.positions"))
        expectClose(try applyRotaryEmbedding(x, positions: positions, theta: 10_000), try golden.tensor("small.out"), tolerance: 1e-5)
        let rotary = try RotaryEmbedding(headDim: 64, theta: 10_000)
        #expect(rotary.inverseFrequencies == (try golden.tensor("small.inv_freq").floats()))
    }

    /// head_dim 64/128/256, theta 1e4 and 5e5, positions up to 4095 where float32 angle rounding
    /// matters: the output (sampled, tolerance 1e-5) and the cos/sin table itself (within 2e-7).
    @Test(arguments: [
        ("pw_rope_d64", [1, 2, 4096, 64], UInt64(91), Float(10_000)),
        ("pw_rope_d128", [1, 4, 300, 128], 92, 500_000),
        ("pw_rope_d256", [1, 8, 128, 256], 93, 10_000),
    ])
    func largeMatchesTransformers(fixture: String, shape: [Int], seed: UInt64, theta: Float) throws {
        let golden = try Golden(fixture)
        let positions = pointwiseIntegers(try golden.tensor("positions"))
        let rotary = try RotaryEmbedding(headDim: shape[3], theta: theta)
        let table = try rotary.table(positions: positions)
        let x = try DeterministicData.tensor(seed: seed, shape: shape)
        let out = try applyRotaryEmbedding(x, table: table)
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)

        let tableIndices = pointwiseIntegers(try golden.tensor("table_indices"))
        let cosines = try golden.tensor("cos").floats(), sines = try golden.tensor("sin").floats()
        var worst: Float = 0
        for (k, index) in tableIndices.enumerated() {
            worst = max(worst, abs(table.cosines[index] - cosines[k]), abs(table.sines[index] - sines[k]))
        }
        #expect(worst <= 2e-7, "cos/sin table differs by \(worst)")
        let referenceFrequencies = try golden.tensor("inv_freq").floats()
        let mismatches = zip(rotary.inverseFrequencies, referenceFrequencies).filter { $0 != $1 }
        // PyTorch's vectorised pow is not always correctly rounded; allow 1 ulp at a couple of low frequencies.
        #expect(mismatches.allSatisfy { abs($0 - $1) <= $1.ulp }, "inv_freq mismatches: \(mismatches)")
    }

    /// Leading axes share the positions; [heads, T, d] and [B, heads, T, d] agree.
    @Test func rankThreeLayout() throws {
        let x = try DeterministicData.tensor(seed: 5, shape: [3, 4, 16])
        let table = try RotaryEmbedding(headDim: 16).table(positions: [7, 8, 9, 10])
        let a = try applyRotaryEmbedding(x, table: table)
        let b = try applyRotaryEmbedding(x.reshaped([1, 3, 4, 16]), table: table)
        #expect(a.floats() == b.floats())
        // Position 0 is the identity.
        let zero = try RotaryEmbedding(headDim: 16).table(positions: [0])
        let row = try DeterministicData.tensor(seed: 6, shape: [2, 1, 16])
        #expect(try applyRotaryEmbedding(row, table: zero).floats() == row.floats())
    }

    @Test func rejectsBadArguments() throws {
        #expect(throws: TensorError.self) { try RotaryEmbedding(headDim: 15) }
        #expect(throws: TensorError.self) { try RotaryEmbedding(headDim: 16).table(positions: [-1]) }
        let table = try RotaryEmbedding(headDim: 16).table(positions: [0, 1])
        #expect(throws: TensorError.shapeMismatch(operation: "applyRotaryEmbedding", [1, 3, 16], [2, 16])) {
            try applyRotaryEmbedding(Tensor.zeros([1, 3, 16]), table: table)
        }
    }

    /// GGUF stores llama's q/k rows permuted per head (row h·D + 2i + s is Hugging Face row
    /// h·D + s·D/2 + i); rotating adjacent pairs of the permuted rows must give exactly the permuted
    /// result of the rotate-half form (same products, same order), bit for bit.
    @Test func adjacentPairsEqualPermutedRotateHalf() throws {
        let heads = 3, d = 64, positions: [Int] = [0, 7, 300, 4095]
        let table = try RotaryEmbedding(headDim: d, theta: 10_000).table(positions: positions)
        let values = try DeterministicData.tensor(seed: 77, shape: [positions.count, heads * d]).floats()
        func permuted(_ x: [Float]) -> [Float] {
            var out = x
            for t in 0..<positions.count {
                for h in 0..<heads {
                    for i in 0..<d / 2 {
                        for s in 0..<2 { out[t * heads * d + h * d + 2 * i + s] = x[t * heads * d + h * d + s * d / 2 + i] }
                    }
                }
            }
            return out
        }
        var halves = try Tensor(shape: [positions.count, heads * d], values: values)
        try applyRotaryEmbedding(&halves, heads: heads, table: table)
        var adjacent = try Tensor(shape: [positions.count, heads * d], values: permuted(values))
        try applyRotaryEmbedding(&adjacent, heads: heads, table: table, pairsAdjacent: true)
        let expected = permuted(try halves.floats()), got = try adjacent.floats()
        #expect(expected.map(\.bitPattern) == got.map(\.bitPattern))
        #expect(got != permuted(values))  // the rotation did something
    }
}
