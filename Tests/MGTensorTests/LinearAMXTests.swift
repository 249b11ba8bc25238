import MGTestSupport
import Testing

@testable import MGTensor

/// The multi-row BF16 `linear` paths against a Float64 product of the exact weights: the packed
/// kernels (hi/lo split activations) at every packed tier the CPU has (AMX, AVX-512 BF16), and the
/// convert-and-`sgemm` fallback everywhere. Shapes cover partial 32-row and 32-column blocks, a k that is not a multiple of the
/// 256-wide slices, and rows of very different magnitude.
@Suite struct LinearAMXTests {
    /// Float64 `x · wᵀ + bias` with each output row's own scale: max |error| / max |reference| is
    /// taken per row, so a tiny row cannot hide behind a large one.
    static func worstRowError(_ actual: Tensor, x: Tensor, weight: Tensor, bias: Tensor?) -> Double {
        let rows = x.count / x.shape[x.rank - 1], k = weight.shape[1], n = weight.shape[0]
        let xs = x.floats(), ws = weight.floats(), bs = bias?.floats(), ys = actual.floats()
        var worst = 0.0
        for r in 0..<rows {
            var maxDifference = 0.0, maxReference = 0.0
            for c in 0..<n {
                var sum = Double(bs?[c] ?? 0)
                for i in 0..<k { sum += Double(xs[r * k + i]) * Double(ws[c * k + i]) }
                maxDifference = max(maxDifference, abs(Double(ys[r * n + c]) - sum))
                maxReference = max(maxReference, abs(sum))
            }
            worst = max(worst, maxDifference / maxReference)
        }
        return worst
    }

    /// [rows, k] activations with rows scaled by 1, 1e-20 and 1e20 in turn (the hi/lo split must
    /// keep its relative accuracy across the exponent range).
    static func activations(rows: Int, k: Int, seed: UInt64) throws -> Tensor {
        let base = try DeterministicData.tensor(seed: seed, shape: [rows, k]).floats()
        let scales: [Float] = [1, 1e-20, 1e20]
        let values = (0..<rows * k).map { base[$0] * scales[($0 / k) % 3] }
        return try Tensor(shape: [rows, k], values: values)
    }

    static let shapes: [(rows: Int, k: Int, n: Int)] = [
        (37, 64, 70), (80, 320, 300), (2, 32, 16), (33, 96, 33), (41, 1088, 40),
    ]

    /// The packed tiers this machine runs (whatever `MG_MAX_ISA` says: each is pinned explicitly).
    static let packedTiers = KernelTier.supported.filter { $0 >= .avx512BF16 && $0 != .amx || MatrixKernels.amxAvailable && $0 == .amx }

    /// Relative error ≤ 1e-5 per row; rounding the activations to bf16 alone would give ~1e-3.
    @Test(arguments: packedTiers) func packedKernelMatchesFloat64(tier: KernelTier) throws {
        for (index, shape) in Self.shapes.enumerated() {
            let x = try Self.activations(rows: shape.rows, k: shape.k, seed: 700 + UInt64(index))
            let w = try DeterministicData.tensor(seed: 710 + UInt64(index), shape: [shape.n, shape.k]).converted(to: .bf16)
            let bias = index % 2 == 0 ? try DeterministicData.tensor(seed: 720 + UInt64(index), shape: [shape.n]) : nil
            #expect(packedBF16Tier(weight: w, kernel: .packed(tier)) == tier)
            #expect(packedBF16Tier(weight: w, kernel: .automatic) == MatrixKernels.packedBF16Tier)
            let out = try linear(x, weight: w, bias: bias, sixteenBitKernel: .packed(tier))
            let error = Self.worstRowError(out, x: x, weight: w, bias: bias)
            #expect(error <= 1e-5, "\(shape): relative error \(error)")
        }
    }

    /// The kernel entry point itself: it takes every shape whose k is a multiple of 32.
    @Test(arguments: packedTiers) func packedKernelAcceptsAlignedK(tier: KernelTier) throws {
        let x = try DeterministicData.tensor(seed: 730, shape: [5, 64])
        let w = try DeterministicData.tensor(seed: 731, shape: [40, 64]).converted(to: .bf16)
        var y = [Float](repeating: .nan, count: 5 * 40)
        let accepted = x.withUnsafeFloats { xs in
            y.withUnsafeMutableBufferPointer { ys in
                packedBF16Linear(weight: w, x: xs.baseAddress!, rows: 5, bias: nil, y: ys.baseAddress!, tier: tier)
            }
        }
        #expect(accepted)
        let error = Self.worstRowError(try Tensor(shape: [5, 40], values: y), x: x, weight: w, bias: nil)
        #expect(error <= 1e-5, "relative error \(error)")
    }

    /// The conversion path on the same inputs (every CPU); tolerance 1e-5.
    @Test func fallbackMatchesFloat64() throws {
        for (index, shape) in Self.shapes.enumerated() {
            let x = try Self.activations(rows: shape.rows, k: shape.k, seed: 700 + UInt64(index))
            let w = try DeterministicData.tensor(seed: 710 + UInt64(index), shape: [shape.n, shape.k]).converted(to: .bf16)
            let bias = index % 2 == 0 ? try DeterministicData.tensor(seed: 720 + UInt64(index), shape: [shape.n]) : nil
            #expect(packedBF16Tier(weight: w, kernel: .convertAndSGEMM) == nil)
            let out = try linear(x, weight: w, bias: bias, sixteenBitKernel: .convertAndSGEMM)
            let error = Self.worstRowError(out, x: x, weight: w, bias: bias)
            #expect(error <= 1e-5, "\(shape): relative error \(error)")
        }
    }

    /// A k that is not a multiple of 32, and F16 weights, stay on the conversion path; tolerance 1e-5.
    @Test func unalignedKAndHalfWeightsFallBack() throws {
        let x = try DeterministicData.tensor(seed: 740, shape: [6, 40])
        let bf16 = try DeterministicData.tensor(seed: 741, shape: [24, 40]).converted(to: .bf16)
        let f16 = try DeterministicData.tensor(seed: 742, shape: [24, 64]).converted(to: .f16)
        #expect(packedBF16Tier(weight: bf16, kernel: .automatic) == nil)
        #expect(packedBF16Tier(weight: f16, kernel: .automatic) == nil)
        #expect(Self.worstRowError(try linear(x, weight: bf16), x: x, weight: bf16, bias: nil) <= 1e-5)
        let x64 = try DeterministicData.tensor(seed: 743, shape: [6, 64])
        #expect(Self.worstRowError(try linear(x64, weight: f16), x: x64, weight: f16, bias: nil) <= 1e-5)
    }

    /// A NaN activation poisons only its own output row; an infinite one gives ±inf or NaN there
    /// (never a finite value), and the other rows are unaffected.
    @Test func nonFiniteActivationsStayInTheirRow() throws {
        var values = try DeterministicData.tensor(seed: 750, shape: [3, 64]).floats()
        values[5] = .nan
        values[64 + 7] = .infinity
        let x = try Tensor(shape: [3, 64], values: values)
        let w = try DeterministicData.tensor(seed: 751, shape: [40, 64]).converted(to: .bf16)
        for kernel in [SixteenBitLinearKernel.automatic, .convertAndSGEMM] + Self.packedTiers.map({ .packed($0) }) {
            let out = try linear(x, weight: w, bias: nil, sixteenBitKernel: kernel).floats()
            let nanRow = out[0..<40].allSatisfy { $0.isNaN }, infiniteRow = out[40..<80].allSatisfy { !$0.isFinite }
            #expect(nanRow && infiniteRow)
            let clean = try Tensor(shape: [1, 64], values: Array(values[128..<192]))
            let expected = try linear(clean, weight: w, bias: nil, sixteenBitKernel: .convertAndSGEMM).floats()
            #expect(relativeError(Array(out[80..<120]), expected) <= 1e-5)
        }
    }
}
