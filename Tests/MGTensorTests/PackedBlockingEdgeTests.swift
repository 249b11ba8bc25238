import MGTestSupport
import Testing

@testable import MGTensor

/// The cache blocking of the packed BF16 kernels at its edges, at every packed tier the CPU has
/// (each pinned explicitly, whatever `MG_MAX_ISA` says): k slices of 256 with a short last slice,
/// several 1024-column weight panels with unequal parts, several row parts (above 1024 rows in the
/// bf16-activation mode, 512 in the exact mode; 256 in the gated kernel), partial 32-row and
/// 32-column blocks, tiny products, and k values the packed kernels do not take (odd, not a
/// multiple of 32), which must give the same answers on the conversion path.
@Suite struct PackedBlockingEdgeTests {
    static let packedTiers = LinearAMXTests.packedTiers

    /// Float64 `x · wᵀ` of the activations as the mode sees them (exact for `.float32`, rounded to
    /// bf16 nearest even, as the packing does, for `.bfloat16Activations`), and the largest
    /// |error| per row divided by that row's largest Σ|x·w| (the scale of the summation's rounding,
    /// which a single cancelling output cannot shrink).
    static func worstError(_ y: Tensor, _ x: Tensor, _ w: Tensor, precision: LinearPrecision) throws -> Double {
        let rows = x.shape[0], k = x.shape[1], n = w.shape[0]
        let xs = (precision == .float32 ? x : try x.converted(to: .bf16)).floats(), ws = w.floats(), ys = y.floats()
        var worst = 0.0
        for r in 0..<rows {
            var maxDifference = 0.0, maxScale = 0.0
            for c in 0..<n {
                var sum = 0.0, scale = 0.0
                for i in 0..<k {
                    let term = Double(xs[r * k + i]) * Double(ws[c * k + i])
                    sum += term
                    scale += abs(term)
                }
                maxDifference = max(maxDifference, abs(Double(ys[r * n + c]) - sum))
                maxScale = max(maxScale, scale)
            }
            worst = max(worst, maxDifference / max(maxScale, .leastNormalMagnitude))
        }
        return worst
    }

    /// Rows × k × n around every block edge, against the Float64 product of what each mode
    /// multiplies: error per row ≤ 1e-5 of Σ|x·w| in the exact mode (its hi/lo split leaves up to
    /// 2⁻¹⁷ per activation) and ≤ 1e-6 in the bf16 mode (the rounding of the activations is in the
    /// reference, so only the F32 summation remains).
    @Test(arguments: packedTiers) func linearBlockEdges(tier: KernelTier) throws {
        let shapes: [(rows: Int, k: Int, n: Int)] = [
            (2, 32, 1),  // tiny: one row block, one partial column block
            (3, 288, 7),  // a full 256 slice and a 32-wide last slice
            (45, 544, 1100),  // three slices; 35 column blocks in two panels (18 + 17), last one 12 wide
            (1030, 96, 40),  // two row parts in the bf16 mode, three in the exact mode
        ]
        for (index, shape) in shapes.enumerated() {
            let x = try DeterministicData.tensor(seed: 2000 + UInt64(index), shape: [shape.rows, shape.k])
            let w = try DeterministicData.tensor(seed: 2010 + UInt64(index), shape: [shape.n, shape.k]).converted(to: .bf16)
            for precision in [LinearPrecision.float32, .bfloat16Activations] {
                let out = try linear(x, weight: w, bias: nil, sixteenBitKernel: .packed(tier), precision: precision)
                let error = try Self.worstError(out, x, w, precision: precision)
                #expect(error <= (precision == .float32 ? 1e-5 : 1e-6), "\(tier) \(shape) \(precision): relative error \(error)")
            }
        }
    }

    /// An output pre-filled with a bias (the kernel adds to y from the first slice on) across
    /// several slices and panels; tolerance 1e-5 per row.
    @Test(arguments: packedTiers) func linearAccumulatesOntoBias(tier: KernelTier) throws {
        let (rows, k, n) = (37, 800, 1090)
        let x = try DeterministicData.tensor(seed: 2100, shape: [rows, k])
        let w = try DeterministicData.tensor(seed: 2101, shape: [n, k]).converted(to: .bf16)
        let bias = try DeterministicData.tensor(seed: 2102, shape: [n], low: -5, high: 5)
        var reference = AMXFusedProductTests.product(x.floats().map(Double.init), w.floats(), rows: rows, k: k, n: n)
        let biasValues = bias.floats()
        for index in reference.indices { reference[index] += Double(biasValues[index % n]) }
        let out = try linear(x, weight: w, bias: bias, sixteenBitKernel: .packed(tier))
        let error = AMXFusedProductTests.worstRowError(out.floats(), reference, rows: rows, n: n)
        #expect(error <= 1e-5, "\(tier): relative error \(error)")
    }

    /// k values the packed kernels decline (odd, even but not a multiple of 32) take the conversion
    /// path under `.automatic` and still match Float64 within 1e-6 of Σ|x·w| per row in either mode
    /// (the conversion path is exact whatever the mode asks).
    @Test func unalignedKUsesTheConversionPath() throws {
        for (index, k) in [1, 33, 255, 258].enumerated() {
            let x = try DeterministicData.tensor(seed: 2200 + UInt64(index), shape: [9, k])
            let w = try DeterministicData.tensor(seed: 2210 + UInt64(index), shape: [35, k]).converted(to: .bf16)
            #expect(packedBF16Tier(weight: w, kernel: .automatic) == nil)
            for precision in [LinearPrecision.float32, .bfloat16Activations] {
                let out = try linear(x, weight: w, precision: precision)
                let error = try Self.worstError(out, x, w, precision: .float32)
                #expect(error <= 1e-6, "k \(k) \(precision): relative error \(error)")
            }
        }
    }

    /// The fused gated MLP at each packed tier with several row parts (300 rows), a hidden size
    /// with a short last slice (288) and five column-block pairs (two chunks: 3 + 2): exact mode
    /// within 1e-5 per row of Float64, bf16 mode within 2e-2 and above 1e-5 (it really rounds).
    @Test(arguments: packedTiers) func gatedMLPBlockEdges(tier: KernelTier) throws {
        let (x, gate, up, down) = try AMXFusedProductTests.mlp(rows: 300, hidden: 288, inner: 160, seed: 2300)
        let reference = AMXFusedProductTests.mlpReference(x, gate: gate, up: up, down: down, activation: .gelu(.tanh))
        let exact = try fusedGatedMLP(
            x, gate: gate, up: up, down: down, activation: .gelu(.tanh), precision: .float32, tier: tier)
        let exactValues = try #require(exact).floats()
        let exactError = AMXFusedProductTests.worstRowError(exactValues, reference, rows: 300, n: 288)
        #expect(exactError <= 1e-5, "\(tier) exact: relative error \(exactError)")
        let fast = try fusedGatedMLP(
            x, gate: gate, up: up, down: down, activation: .gelu(.tanh), precision: .bfloat16Activations, tier: tier)
        let fastError = AMXFusedProductTests.worstRowError(try #require(fast).floats(), reference, rows: 300, n: 288)
        #expect(fastError <= 2e-2 && fastError >= 1e-5, "\(tier) bf16: relative error \(fastError)")
    }
}
