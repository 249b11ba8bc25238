import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// The fused products of prefill on the packed BF16 kernels of the active tier (AMX or AVX-512
/// BF16) against Float64 references:
/// - ``gatedMLP(_:gate:up:down:activation:precision:)`` (gate/up combined in the tile epilogue and
///   written straight into the packed operand of the down product);
/// - several multi-row products of one input (``linear(_:weights:precision:)``, packed once);
/// - reduction lengths above the kernel's 2048-wide k slice (partial sums reloaded from the output).
/// Sizes leave partial 32-row and 32-column blocks.
@Suite struct AMXFusedProductTests {
    /// Float64 `x · wᵀ` of row-major `x` (`rows` × `k`) and `w` (`n` × `k`).
    static func product(_ x: [Double], _ w: [Float], rows: Int, k: Int, n: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for c in 0..<n {
                var sum = 0.0
                for i in 0..<k { sum += x[r * k + i] * Double(w[c * k + i]) }
                y[r * n + c] = sum
            }
        }
        return y
    }

    static func activate(_ g: Double, _ kind: GatedActivation) -> Double {
        switch kind {
        case .silu: return g / (1 + exp(-g))
        case .gelu(.none): return 0.5 * g * (1 + erf(g / 2.0.squareRoot()))
        case .gelu(.tanh): return 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g)))
        }
    }

    /// Worst per-row max |error| / max |reference| (a small row cannot hide behind a large one).
    static func worstRowError(_ actual: [Float], _ reference: [Double], rows: Int, n: Int) -> Double {
        var worst = 0.0
        for r in 0..<rows {
            var maxDifference = 0.0, maxReference = 0.0
            for c in 0..<n {
                maxDifference = max(maxDifference, abs(Double(actual[r * n + c]) - reference[r * n + c]))
                maxReference = max(maxReference, abs(reference[r * n + c]))
            }
            worst = max(worst, maxDifference / maxReference)
        }
        return worst
    }

    /// Inputs of a gated MLP: x `[rows, hidden]`, BF16 gate/up `[inner, hidden]` and down `[hidden, inner]`.
    static func mlp(rows: Int, hidden: Int, inner: Int, seed: UInt64, dtype: DType = .bf16) throws
        -> (x: Tensor, gate: Tensor, up: Tensor, down: Tensor)
    {
        let x = try DeterministicData.tensor(seed: seed, shape: [rows, hidden], low: -2, high: 2)
        let gate = try DeterministicData.tensor(seed: seed + 1, shape: [inner, hidden], low: -0.2, high: 0.2)
        let up = try DeterministicData.tensor(seed: seed + 2, shape: [inner, hidden], low: -0.2, high: 0.2)
        let down = try DeterministicData.tensor(seed: seed + 3, shape: [hidden, inner], low: -0.1, high: 0.1)
        return (x, try gate.converted(to: dtype), try up.converted(to: dtype), try down.converted(to: dtype))
    }

    static func mlpReference(_ x: Tensor, gate: Tensor, up: Tensor, down: Tensor, activation: GatedActivation) -> [Double] {
        let rows = x.shape[0], hidden = x.shape[1], inner = gate.shape[0]
        let xs = x.floats().map(Double.init)
        let g = product(xs, gate.floats(), rows: rows, k: hidden, n: inner)
        let u = product(xs, up.floats(), rows: rows, k: hidden, n: inner)
        let a = zip(g, u).map { activate($0, activation) * $1 }
        return product(a, down.floats(), rows: rows, k: inner, n: hidden)
    }

    /// Exact mode within 1e-5 per row of Float64 (F32-level), the bf16 mode within 2e-2 but above
    /// 1e-5 (it really rounds). `inner` = 2080 gives the down product a k above one 2048 slice.
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil), arguments: [GatedActivation.gelu(.tanh), .silu, .gelu(.none)])
    func gatedMLPMatchesFloat64(activation: GatedActivation) throws {
        for (index, shape) in [(rows: 37, hidden: 96, inner: 64), (rows: 33, hidden: 64, inner: 2080), (rows: 2, hidden: 32, inner: 32)]
            .enumerated()
        {
            let (x, gate, up, down) = try Self.mlp(rows: shape.rows, hidden: shape.hidden, inner: shape.inner, seed: 1000 + UInt64(index) * 10)
            let reference = Self.mlpReference(x, gate: gate, up: up, down: down, activation: activation)
            let exact = try gatedMLP(x, gate: gate, up: up, down: down, activation: activation)
            #expect(exact.shape == [shape.rows, shape.hidden])
            let exactError = Self.worstRowError(exact.floats(), reference, rows: shape.rows, n: shape.hidden)
            #expect(exactError <= 1e-5, "\(shape) exact: relative error \(exactError)")
            let fast = try gatedMLP(x, gate: gate, up: up, down: down, activation: activation, precision: .bfloat16Activations)
            let fastError = Self.worstRowError(fast.floats(), reference, rows: shape.rows, n: shape.hidden)
            #expect(fastError <= 2e-2 && fastError >= 1e-5, "\(shape) bf16: relative error \(fastError)")
        }
    }

    /// The fused kernel agrees with the composed ops it replaces (two products, the gated
    /// activation, the down product) to 1e-6 in the exact mode; leading axes are kept.
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil)) func gatedMLPMatchesComposedOps() throws {
        let (x2, gate, up, down) = try Self.mlp(rows: 70, hidden: 64, inner: 96, seed: 1100)
        let x = try x2.reshaped([2, 35, 64])
        let fused = try gatedMLP(x, gate: gate, up: up, down: down, activation: .gelu(.tanh))
        #expect(fused.shape == [2, 35, 64])
        let projected = try linear(x, weights: [gate, up])
        let composed = try linear(geluGated(projected[0], projected[1], approximation: .tanh), weight: down)
        #expect(relativeError(fused.floats(), composed.floats()) <= 1e-6)
    }

    /// F32 weights (every CPU) and a single row take the composed path; tolerance 1e-5 against Float64.
    @Test func gatedMLPGeneralPath() throws {
        let (x, gate, up, down) = try Self.mlp(rows: 5, hidden: 40, inner: 24, seed: 1200, dtype: .f32)
        let reference = Self.mlpReference(x, gate: gate, up: up, down: down, activation: .silu)
        let out = try gatedMLP(x, gate: gate, up: up, down: down, activation: .silu)
        #expect(Self.worstRowError(out.floats(), reference, rows: 5, n: 40) <= 1e-5)
        let bf16 = try Self.mlp(rows: 1, hidden: 64, inner: 32, seed: 1210)
        let single = try gatedMLP(bf16.x, gate: bf16.gate, up: bf16.up, down: bf16.down, activation: .gelu(.tanh))
        let singleReference = Self.mlpReference(bf16.x, gate: bf16.gate, up: bf16.up, down: bf16.down, activation: .gelu(.tanh))
        #expect(Self.worstRowError(single.floats(), singleReference, rows: 1, n: 64) <= 1e-5)
    }

    /// Mismatched weights are rejected, not multiplied.
    @Test func gatedMLPChecksShapes() throws {
        let (x, gate, up, _) = try Self.mlp(rows: 3, hidden: 32, inner: 64, seed: 1300)
        #expect(throws: TensorError.self) { try gatedMLP(x, gate: gate, up: up, down: gate, activation: .silu) }
        let wrongInput = try DeterministicData.tensor(seed: 1301, shape: [3, 48])
        let down = try DeterministicData.tensor(seed: 1302, shape: [32, 64]).converted(to: .bf16)
        #expect(throws: TensorError.self) { try gatedMLP(wrongInput, gate: gate, up: up, down: down, activation: .silu) }
    }

    /// Several weights on one multi-row input (packed once, one parallel pass) give exactly the
    /// results of separate calls, in both precisions; widths 70, 33 and 256 leave partial blocks.
    /// Tolerance: 0 (bitwise; same kernel per output block).
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil)) func multiRowProductsMatchSeparateCalls() throws {
        let x = try DeterministicData.tensor(seed: 1400, shape: [37, 96])
        let weights = try [70, 33, 256].enumerated().map { index, width in
            try DeterministicData.tensor(seed: 1401 + UInt64(index), shape: [width, 96]).converted(to: .bf16)
        }
        for precision in [LinearPrecision.float32, .bfloat16Activations] {
            let fused = try linear(x, weights: weights, precision: precision)
            for (index, weight) in weights.enumerated() {
                let separate = try linear(x, weight: weight, precision: precision)
                #expect(fused[index].shape == separate.shape)
                #expect(fused[index].floats() == separate.floats(), "\(precision) weight \(index)")
            }
        }
    }

    /// k = 2080 spans two of the kernel's k slices (the second adds to the first's stored sums), with
    /// a bias pre-filled into the output: exact mode within 1e-5 per row of Float64, bf16 mode within
    /// 1e-2.
    @Test(.enabled(if: MatrixKernels.packedBF16Tier != nil)) func longReductionMatchesFloat64() throws {
        let (rows, k, n) = (33, 2080, 40)
        let x = try DeterministicData.tensor(seed: 1500, shape: [rows, k])
        let w = try DeterministicData.tensor(seed: 1501, shape: [n, k]).converted(to: .bf16)
        let bias = try DeterministicData.tensor(seed: 1502, shape: [n])
        var reference = Self.product(x.floats().map(Double.init), w.floats(), rows: rows, k: k, n: n)
        let biasValues = bias.floats()
        for index in reference.indices { reference[index] += Double(biasValues[index % n]) }
        let exact = try linear(x, weight: w, bias: bias)
        #expect(Self.worstRowError(exact.floats(), reference, rows: rows, n: n) <= 1e-5)
        let fast = try linear(x, weight: w, bias: bias, precision: .bfloat16Activations)
        #expect(Self.worstRowError(fast.floats(), reference, rows: rows, n: n) <= 1e-2)
    }
}
