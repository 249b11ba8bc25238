import MGTensor
import Testing

@Suite("Activations")
struct ActivationTests {
    /// Every activation over [-10, 10], the far tails (±30, ±90, ±200), signed zeros and tiny values,
    /// against PyTorch fp32. Tolerance 1e-5 (max |Δ| / max |expected|).
    @Test func smallMatchesPyTorch() throws {
        let golden = try Golden("pw_activation_small")
        let x = try golden.tensor("x"), up = try golden.tensor("up")
        expectClose(try gelu(x), try golden.tensor("gelu"), tolerance: 1e-5)
        expectClose(try gelu(x, approximation: .tanh), try golden.tensor("gelu_tanh"), tolerance: 1e-5)
        expectClose(try quickGelu(x), try golden.tensor("quick_gelu"), tolerance: 1e-5)
        expectClose(try silu(x), try golden.tensor("silu"), tolerance: 1e-5)
        expectClose(try sigmoid(x), try golden.tensor("sigmoid"), tolerance: 1e-5)
        expectClose(try siluGated(x, up), try golden.tensor("silu_gated"), tolerance: 1e-5)
        expectClose(try geluGated(x, up), try golden.tensor("gelu_gated"), tolerance: 1e-5)
        expectClose(try geluGated(x, up, approximation: .tanh), try golden.tensor("gelu_tanh_gated"), tolerance: 1e-5)
    }

    /// Elementwise accuracy, not just relative to the largest output: every sigmoid value within
    /// 2e-7 absolute, every GELU value within 2e-6 of |x| (covers the small-magnitude region).
    @Test func pointwiseAccuracy() throws {
        let golden = try Golden("pw_activation_small")
        let x = try golden.tensor("x").floats()
        for (actual, expected) in zip(try sigmoid(golden.tensor("x")).floats(), try golden.tensor("sigmoid").floats()) {
            #expect(abs(actual - expected) <= 2e-7)
        }
        for (name, approximation) in [("gelu", GELUApproximation.none), ("gelu_tanh", .tanh)] {
            let actual = try gelu(golden.tensor("x"), approximation: approximation).floats()
            let expected = try golden.tensor(name).floats()
            for i in x.indices {
                #expect(abs(actual[i] - expected[i]) <= 2e-6 * max(abs(x[i]), 1e-30), "\(name) at x = \(x[i])")
            }
        }
    }

    /// CLIP ViT-L MLP width, 577 × 4096 over [-6, 6], sampled. Tolerance 1e-5.
    @Test(arguments: [("pw_gelu_large", GELUApproximation.none), ("pw_gelu_tanh_large", .tanh)])
    func largeGelu(fixture: String, approximation: GELUApproximation) throws {
        let golden = try Golden(fixture)
        let x = try DeterministicData.tensor(seed: 41, shape: [577, 4096], low: -6, high: 6)
        let out = try gelu(x, approximation: approximation)
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    @Test func largeSiluGated() throws {
        let golden = try Golden("pw_silu_gated_large")
        let gate = try DeterministicData.tensor(seed: 41, shape: [577, 4096], low: -6, high: 6)
        let up = try DeterministicData.tensor(seed: 42, shape: [577, 4096])
        expectCloseAtSamples(try siluGated(gate, up), indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    @Test func nanPropagatesAndShapesMustMatch() throws {
        // Infinities are not compared: PyTorch itself returns NaN for gelu(±∞) in some forms.
        let x = try Tensor(shape: [3], values: [.nan, .infinity, -.infinity])
        for activation in [gelu(_:approximation:), { x, _ in try silu(x) }, { x, _ in try quickGelu(x) }] {
            #expect(try activation(x, .none).floats()[0].isNaN)
        }
        let s = try sigmoid(x).floats()
        #expect(s[0].isNaN && s[1] == 1 && s[2] == 0)
        #expect(throws: TensorError.shapeMismatch(operation: "siluGated", [3], [1, 3])) {
            try siluGated(x, x.reshaped([1, 3]))
        }
    }
}
