import MGTensor
import Testing

@Suite("Normalization")
struct NormalizationTests {
    /// LayerNorm with and without affine parameters, channels-first LayerNorm2d, and RMSNorm in
    /// both the LLaMA (`· w`) and Gemma (`· (1 + w)`) forms, against PyTorch/transformers. Tolerance 1e-5.
    @Test func smallMatchesPyTorch() throws {
        let golden = try Golden("pw_norm_small")
        expectClose(
            try layerNorm(golden.tensor("ln.x"), weight: golden.tensor("ln.w"), bias: golden.tensor("ln.b"), eps: 1e-5),
            try golden.tensor("ln.out"), tolerance: 1e-5)
        expectClose(
            try layerNorm(golden.tensor("ln_plain.x"), weight: nil, bias: nil, eps: 1e-6),
            try golden.tensor("ln_plain.out"), tolerance: 1e-5)
        expectClose(
            try layerNorm2d(golden.tensor("ln2d.x"), weight: golden.tensor("ln2d.w"), bias: golden.tensor("ln2d.b"), eps: 1e-6),
            try golden.tensor("ln2d.out"), tolerance: 1e-5)
        let x = try golden.tensor("rms.x"), w = try golden.tensor("rms.w")
        expectClose(try rmsNorm(x, weight: w, eps: 1e-6, addUnitOffset: true), try golden.tensor("rms.gemma"), tolerance: 1e-5)
        expectClose(try rmsNorm(x, weight: w, eps: 1e-6, addUnitOffset: false), try golden.tensor("rms.llama"), tolerance: 1e-5)
    }

    /// BF16 weights are widened on use and give the same result as their F32 values.
    @Test func halfPrecisionWeights() throws {
        let golden = try Golden("pw_norm_small")
        let x = try golden.tensor("ln.x")
        let w = try golden.tensor("ln.w").converted(to: .bf16), b = try golden.tensor("ln.b").converted(to: .bf16)
        let reference = try layerNorm(x, weight: w.asFloat32(), bias: b.asFloat32())
        expectClose(try layerNorm(x, weight: w, bias: b), reference, tolerance: 0)
    }

    /// CLIP ViT-L tokens (577 × 1024), sampled. Tolerance 1e-5.
    @Test func largeLayerNorm() throws {
        try checkLayerNorm("pw_ln_large", shape: [577, 1024], seeds: (61, 62, 63), eps: 1e-5)
    }

    /// ConvNeXt stage-1 channels-last rows (36 864 × 192), sampled. Tolerance 1e-5.
    @Test func largeChannelsLastLayerNorm() throws {
        try checkLayerNorm("pw_ln_convnext", shape: [36864, 192], seeds: (64, 65, 66), eps: 1e-6)
    }

    /// ConvNeXt LayerNorm2d over 1 × 192 × 192 × 192 NCHW, sampled. Tolerance 1e-5.
    @Test func largeLayerNorm2d() throws {
        let golden = try Golden("pw_ln2d_large")
        let x = try DeterministicData.tensor(seed: 67, shape: [1, 192, 192, 192], low: -2, high: 3)
        let w = try DeterministicData.tensor(seed: 68, shape: [192]), b = try DeterministicData.tensor(seed: 69, shape: [192])
        let out = try layerNorm2d(x, weight: w, bias: b, eps: 1e-6)
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    /// Gemma-2B hidden states (577 × 2048) through GemmaRMSNorm, sampled. Tolerance 1e-5.
    @Test func largeGemmaRMSNorm() throws {
        let golden = try Golden("pw_rms_large")
        let x = try DeterministicData.tensor(seed: 70, shape: [577, 2048], low: -4, high: 4)
        let w = try DeterministicData.tensor(seed: 71, shape: [2048])
        let out = try rmsNorm(x, weight: w, eps: 1e-6, addUnitOffset: true)
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    @Test func rejectsBadParameters() throws {
        let x = try Tensor.zeros([2, 4])
        #expect(throws: TensorError.shapeMismatch(operation: "layerNorm weight", [3], [4])) {
            try layerNorm(x, weight: Tensor.zeros([3]), bias: nil)
        }
        #expect(throws: TensorError.shapeMismatch(operation: "layerNorm2d bias", [3], [4])) {
            try layerNorm2d(x, weight: nil, bias: Tensor.zeros([3]))
        }
        #expect(throws: TensorError.shapeMismatch(operation: "rmsNorm weight", [2, 2], [4])) {
            try rmsNorm(x, weight: Tensor.zeros([2, 2]))
        }
        #expect(throws: TensorError.self) { try layerNorm2d(Tensor.zeros([4]), weight: nil, bias: nil) }
    }

    private func checkLayerNorm(_ fixture: String, shape: [Int], seeds: (UInt64, UInt64, UInt64), eps: Float) throws {
        let golden = try Golden(fixture)
        let x = try DeterministicData.tensor(seed: seeds.0, shape: shape, low: -2, high: 3)
        let w = try DeterministicData.tensor(seed: seeds.1, shape: [shape[1]])
        let b = try DeterministicData.tensor(seed: seeds.2, shape: [shape[1]])
        let out = try layerNorm(x, weight: w, bias: b, eps: eps)
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }
}
