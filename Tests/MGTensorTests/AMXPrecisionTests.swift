import MGTestSupport
import Testing

@testable import MGTensor

/// The AMX products added for speed, each against a Float64 reference:
/// - ``SplitBF16Matrix`` (`A · B`, both F32, split into bf16 hi/lo): near-F32 accuracy;
/// - ``LinearPrecision/bfloat16Activations`` (one bf16 pass, as PyTorch BF16): bf16 accuracy, and
///   never chosen unless asked for.
@Suite struct AMXPrecisionTests {
    /// Float64 `A · B (+ bias ⊗ 1)` per column of the batch: max |error| / max |reference| over each
    /// output row, worst row reported (rows of very different scale cannot hide behind each other).
    static func worstRowError(_ actual: [Float], a: [Float], b: [Float], bias: [Float]?, m: Int, k: Int, p: Int, batch: Int)
        -> Double
    {
        var worst = 0.0
        for image in 0..<batch {
            for r in 0..<m {
                var maxDifference = 0.0, maxReference = 0.0
                for c in 0..<p {
                    var sum = Double(bias?[r] ?? 0)
                    for i in 0..<k { sum += Double(a[r * k + i]) * Double(b[image * k * p + i * p + c]) }
                    maxDifference = max(maxDifference, abs(Double(actual[image * m * p + r * p + c]) - sum))
                    maxReference = max(maxReference, abs(sum))
                }
                worst = max(worst, maxDifference / maxReference)
            }
        }
        return worst
    }

    /// Shapes with partial 32-row and 32-column blocks, several k slices (k = 1056 > 1024) and a batch.
    static let splitShapes: [(m: Int, k: Int, p: Int, batch: Int)] = [(40, 64, 70, 1), (96, 1056, 33, 1), (7, 32, 300, 2)]

    /// Relative error ≤ 2e-5 per output row (bf16 rounding of the operands alone would give ~4e-3).
    @Test(.enabled(if: MatrixKernels.usesAMX)) func splitProductMatchesFloat64() throws {
        for (index, shape) in Self.splitShapes.enumerated() {
            let a = try DeterministicData.tensor(seed: 900 + UInt64(index), shape: [shape.m, shape.k])
            // B scaled by 1, 1e-20 and 1e20 per shape: the split keeps its relative accuracy.
            let raw = try DeterministicData.tensor(seed: 910 + UInt64(index), shape: [shape.batch, shape.k, shape.p]).floats()
            let scale: Float = [1, 1e-20, 1e20][index]
            let b = try Tensor(shape: [shape.batch, shape.k, shape.p], values: raw.map { $0 * scale })
            let bias = index == 0 ? try DeterministicData.tensor(seed: 920, shape: [shape.m]) : nil
            let packed = try #require(SplitBF16Matrix(a))
            let out = try matmul(packed, b, rowBias: bias)
            #expect(out.shape == [shape.batch, shape.m, shape.p])
            let error = Self.worstRowError(
                out.floats(), a: a.floats(), b: b.floats(), bias: bias?.floats(), m: shape.m, k: shape.k, p: shape.p,
                batch: shape.batch)
            #expect(error <= 2e-5, "\(shape): relative error \(error)")
        }
    }

    /// Reduction lengths that are not a multiple of 32 cannot be packed (callers fall back to sgemm).
    @Test func splitPackingNeedsAlignedColumns() throws {
        #expect(SplitBF16Matrix(try DeterministicData.tensor(seed: 930, shape: [8, 48])) == nil)
    }

    /// A [rows, k] F32 input and a [n, k] BF16 weight of unit scale.
    static func linearInputs(rows: Int, k: Int, n: Int, seed: UInt64) throws -> (Tensor, Tensor) {
        (try DeterministicData.tensor(seed: seed, shape: [rows, k]),
         try DeterministicData.tensor(seed: seed + 1, shape: [n, k]).converted(to: .bf16))
    }

    /// Float64 `x · wᵀ`, max |error| / max |reference| over the whole output.
    static func linearError(_ y: Tensor, x: Tensor, w: Tensor) -> Double {
        let rows = x.shape[0], k = x.shape[1], n = w.shape[0]
        let xs = x.floats(), ws = w.floats(), ys = y.floats()
        var maxDifference = 0.0, maxReference = 0.0
        for r in 0..<rows {
            for c in 0..<n {
                var sum = 0.0
                for i in 0..<k { sum += Double(xs[r * k + i]) * Double(ws[c * k + i]) }
                maxDifference = max(maxDifference, abs(Double(ys[r * n + c]) - sum))
                maxReference = max(maxReference, abs(sum))
            }
        }
        return maxDifference / maxReference
    }

    /// The fast mode rounds activations to bf16 (2⁻⁹ relative each): error ≤ 1e-2 of the largest
    /// output, but clearly above the exact mode's 1e-5 (it really takes the one-pass path).
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil)) func bf16ActivationModeHasBF16Accuracy() throws {
        let (x, w) = try Self.linearInputs(rows: 70, k: 512, n: 96, seed: 940)
        let fast = try linear(x, weight: w, precision: .bfloat16Activations)
        let fastError = Self.linearError(fast, x: x, w: w)
        #expect(fastError <= 1e-2, "fast mode: relative error \(fastError)")
        #expect(fastError >= 1e-5, "fast mode should round the activations, error \(fastError)")
        // The exact mode on the same inputs, for contrast.
        let exactError = Self.linearError(try linear(x, weight: w, precision: .float32), x: x, w: w)
        #expect(exactError <= 1e-5, "exact mode: relative error \(exactError)")
    }

    /// The three-argument `linear` and a single row are exact whatever mode exists: the fast mode is
    /// opt-in only. Tolerance 1e-5.
    @Test func exactModeIsTheDefault() throws {
        let (x, w) = try Self.linearInputs(rows: 40, k: 256, n: 64, seed: 950)
        #expect(Self.linearError(try linear(x, weight: w), x: x, w: w) <= 1e-5)
        let row = try x.row(0).reshaped([1, 256])
        #expect(Self.linearError(try linear(row, weight: w, precision: .bfloat16Activations), x: row, w: w) <= 1e-5)
    }

    /// `linear(_:weights:)` on one row (decode) runs every GEMV in one parallel pass; each output must
    /// equal its own `linear` call exactly (same kernel, same rows), for BF16 and F16 weights with
    /// sizes that split across chunk boundaries. Tolerance: 0 (bitwise).
    @Test func fusedSingleRowProductsMatchSeparateCalls() throws {
        let x = try DeterministicData.tensor(seed: 960, shape: [1, 96])
        let weights = [
            try DeterministicData.tensor(seed: 961, shape: [37, 96]).converted(to: .bf16),
            try DeterministicData.tensor(seed: 962, shape: [5, 96]).converted(to: .f16),
            try DeterministicData.tensor(seed: 963, shape: [1000, 96]).converted(to: .bf16),
        ]
        let fused = try linear(x, weights: weights)
        for (index, weight) in weights.enumerated() {
            let separate = try linear(x, weight: weight)
            #expect(fused[index].shape == separate.shape)
            #expect(fused[index].floats() == separate.floats(), "weight \(index)")
        }
        // Several rows take the per-weight path; results still agree with separate calls.
        let rows = try DeterministicData.tensor(seed: 964, shape: [3, 96])
        let many = try linear(rows, weights: weights)
        #expect(many[2].floats() == (try linear(rows, weight: weights[2])).floats())
    }
}
