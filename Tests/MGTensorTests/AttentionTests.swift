import Testing
@testable import MGTensor

/// `scaledDotProductAttention` against `torch.nn.functional.scaled_dot_product_attention` with
/// `enable_gqa=True`; for Tq < Tk the reference uses an explicit end-aligned causal mask.
@Suite struct AttentionTests {
    /// Grouped heads (4 query, 2 kv), value depth ≠ key depth, custom scale, end-aligned causal
    /// decode of 3 queries against 9 keys, multi-query causal; tolerance 1e-5.
    @Test func smallCasesMatchTorch() throws {
        let g = try Golden("mm_sdpa_small")
        let q = try g.tensor("q"), k = try g.tensor("k"), v = try g.tensor("v")
        expectClose(try scaledDotProductAttention(q, key: k, value: v), try g.tensor("full"), tolerance: 1e-5)
        expectClose(try scaledDotProductAttention(q, key: k, value: v, causal: true), try g.tensor("causal"), tolerance: 1e-5)
        expectClose(try scaledDotProductAttention(q, key: k, value: v, scale: 0.3), try g.tensor("scaled"), tolerance: 1e-5)
        let qd = try g.tensor("qd"), kd = try g.tensor("kd"), vd = try g.tensor("vd")
        expectClose(try scaledDotProductAttention(qd, key: kd, value: vd, causal: true), try g.tensor("decodeCausal"), tolerance: 1e-5)
        expectClose(try scaledDotProductAttention(qd, key: kd, value: vd), try g.tensor("decodeFull"), tolerance: 1e-5)
        let qm = try g.tensor("qm"), km = try g.tensor("km"), vm = try g.tensor("vm")
        expectClose(try scaledDotProductAttention(qm, key: km, value: vm, causal: true), try g.tensor("mqaCausal"), tolerance: 1e-5)
    }

    /// Half-precision inputs are upcast exactly.
    @Test func halfPrecisionInputs() throws {
        let g = try Golden("mm_sdpa_small")
        let q = try g.tensor("q").converted(to: .bf16), k = try g.tensor("k"), v = try g.tensor("v").converted(to: .f16)
        let expected = try scaledDotProductAttention(q.asFloat32(), key: k, value: v.asFloat32())
        expectClose(try scaledDotProductAttention(q, key: k, value: v), expected, tolerance: 0)
    }

    /// CLIP ViT-L: B 1, 16 heads, 577 tokens, depth 64, no mask; tolerance 1e-4.
    @Test func vitLargeShape() throws {
        try checkRealistic("mm_sdpa_vit", query: [1, 16, 577, 64], kvHeads: 16, keys: 577, causal: false, seeds: (41, 42, 43))
    }

    /// Gemma prefill: 8 query heads sharing 1 kv head, 640 tokens, depth 256, causal; tolerance 1e-4.
    @Test func gemmaPrefillShape() throws {
        try checkRealistic("mm_sdpa_gemma_prefill", query: [1, 8, 640, 256], kvHeads: 1, keys: 640, causal: true, seeds: (44, 45, 46))
    }

    /// Gemma decode: one query per head against 1000 cached keys; tolerance 1e-4.
    @Test func gemmaDecodeShape() throws {
        try checkRealistic("mm_sdpa_gemma_decode", query: [1, 8, 1, 256], kvHeads: 1, keys: 1000, causal: true, seeds: (47, 48, 49))
    }

    private func checkRealistic(
        _ name: String, query shape: [Int], kvHeads: Int, keys: Int, causal: Bool, seeds: (UInt64, UInt64, UInt64)
    ) throws {
        let g = try Golden(name)
        let q = try DeterministicData.tensor(seed: seeds.0, shape: shape, low: -2, high: 2)
        let kvShape = [shape[0], kvHeads, keys, shape[3]]
        let k = try DeterministicData.tensor(seed: seeds.1, shape: kvShape)
        let v = try DeterministicData.tensor(seed: seeds.2, shape: kvShape)
        let out = try scaledDotProductAttention(q, key: k, value: v, causal: causal)
        #expect(out.shape == shape)
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)
    }

    /// Every row block and causal key limit agrees with a one-block plan on long sequences.
    @Test func blockPlanCoversEveryRowOnce() {
        let plan = AttentionPlan(
            groups: 2, groupSize: 3, queryLength: 300, keyLength: 310, depth: 4, valueDepth: 4, causal: true, scale: 1)
        var covered = [Int](repeating: 0, count: plan.groups * plan.rowsPerGroup)
        for block in plan.blocks() {
            for row in block.row..<(block.row + block.rows) {
                covered[block.group * plan.rowsPerGroup + row] += 1
                // The block sees every key its rows may attend to.
                #expect(row % plan.queryLength + 10 < block.keys)
            }
            #expect(block.keys <= plan.keyLength)
        }
        #expect(covered.allSatisfy { $0 == 1 })
    }

    @Test func rejectsBadShapes() throws {
        let q = try Tensor.zeros([1, 3, 4, 8])
        let kv = try Tensor.zeros([1, 2, 4, 8])
        #expect(throws: TensorError.self) { try scaledDotProductAttention(q, key: kv, value: kv) }
        let q4 = try Tensor.zeros([1, 4, 5, 8])
        #expect(throws: TensorError.self) { try scaledDotProductAttention(q4, key: kv, value: kv, causal: true) }
        #expect(throws: TensorError.shapeMismatch(operation: "scaledDotProductAttention", [1, 4, 5, 8], [1, 2, 4, 6])) {
            try scaledDotProductAttention(q4, key: Tensor.zeros([1, 2, 4, 6]), value: kv)
        }
        #expect(throws: TensorError.shapeMismatch(operation: "scaledDotProductAttention", [1, 2, 4, 8], [1, 2, 3, 8])) {
            try scaledDotProductAttention(q4, key: kv, value: Tensor.zeros([1, 2, 3, 8]))
        }
        #expect(throws: TensorError.self) { try scaledDotProductAttention(Tensor.zeros([4, 5, 8]), key: kv, value: kv) }
        #expect(throws: TensorError.self) {
            try scaledDotProductAttention(q4, key: Tensor.zeros([1, 2, 0, 8]), value: Tensor.zeros([1, 2, 0, 8]))
        }
    }
}
