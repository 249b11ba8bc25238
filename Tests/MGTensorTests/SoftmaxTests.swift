import MGTensor
import Testing

@Suite("Softmax")
struct SoftmaxTests {
    /// Last, middle and first axes, a row with −∞, a row of ±1000 logits and a row longer than one
    /// vector. Tolerance 1e-5.
    @Test func smallMatchesPyTorch() throws {
        let golden = try Golden("pw_softmax_small")
        for (name, axis) in [("last", -1), ("mid", 1), ("first", 0), ("tail", 2)] {
            expectClose(try softmax(golden.tensor("\(name).x"), axis: axis), try golden.tensor("\(name).out"), tolerance: 1e-5)
        }
    }

    /// ViT-L attention scores, 16 × 577 × 577 in [-8, 8], sampled. Tolerance 1e-5.
    @Test func largeLastAxis() throws {
        let golden = try Golden("pw_softmax_large")
        let x = try DeterministicData.tensor(seed: 51, shape: [16, 577, 577], low: -8, high: 8)
        expectCloseAtSamples(try softmax(x, axis: -1), indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    /// A non-last axis at size (4 × 300 × 333, axis 1, more than one column block). Tolerance 1e-5.
    @Test func largeMiddleAxis() throws {
        let golden = try Golden("pw_softmax_axis1")
        let x = try DeterministicData.tensor(seed: 52, shape: [4, 300, 333], low: -8, high: 8)
        expectCloseAtSamples(try softmax(x, axis: 1), indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-5)
    }

    @Test func specialValuesAndErrors() throws {
        let x = try Tensor(shape: [3, 2], values: [.nan, 1, .infinity, 0, -.infinity, -.infinity])
        let y = try softmax(x, axis: -1).floats()
        #expect(y.allSatisfy { $0.isNaN })
        let z = try softmax(Tensor(shape: [1, 3], values: [-.infinity, 0, 0]), axis: 1).floats()
        #expect(z == [0, 0.5, 0.5])
        #expect(throws: TensorError.invalidAxis(operation: "softmax", axis: 2, rank: 2)) { try softmax(x, axis: 2) }
        #expect(try softmax(Tensor.zeros([0, 4]), axis: -1).shape == [0, 4])
    }
}
