import CMGKernels
import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// The ConvNeXt MLP kernels of conv.c. `mg_bias_gelu_rows`, the fused fc1 epilogue: against its plain
/// scalar reference, against erf in Float64 and against `gelu(x + bias)` of the tensor API, on
/// strided rows whose length is not a multiple of the vector width. The layout moves of the bf16
/// mode (`mg_columns_to_rows`, `mg_add_rows_to_columns`): exactly against index loops, on sizes that
/// are not multiples of their 16×16 tiles, in pieces as the parallel callers split them. The kernels
/// run the CPU's best function-multiversioning clone (x86-64-v4, v3 or the default), like every
/// pointwise kernel; `MG_MAX_ISA` does not cap clones.
@Suite struct ConvNeXtKernelTests {
    static let (rows, cols, ld) = (13, 45, 51)

    static func input() throws -> [Float] {
        // Values from −8 to 8 cover both tails of the erf form.
        try DeterministicData.tensor(seed: 1700, shape: [rows * ld], low: -8, high: 8).floats()
    }

    @Test(arguments: [true, false]) func matchesScalarReference(withBias: Bool) throws {
        let bias = try DeterministicData.tensor(seed: 1701, shape: [Self.rows], low: -1, high: 1).floats()
        var fast = try Self.input(), reference = fast
        bias.withUnsafeBufferPointer { b in
            let pointer = withBias ? b.baseAddress : nil
            mg_bias_gelu_rows(&fast, pointer, Self.rows, Self.cols, Self.ld)
            mg_bias_gelu_rows_reference(&reference, pointer, Self.rows, Self.cols, Self.ld)
        }
        let original = try Self.input()
        for r in 0..<Self.rows {
            for c in 0..<Self.ld {
                let index = r * Self.ld + c
                if c >= Self.cols {
                    #expect(fast[index] == original[index], "row \(r) column \(c) past the row was written")
                    continue
                }
                // Clones may contract the polynomial into FMAs, the reference may not: a few ulps.
                let tolerance = 4e-7 * max(1, abs(reference[index]))
                #expect(abs(fast[index] - reference[index]) <= tolerance, "row \(r) column \(c): \(fast[index]) vs \(reference[index])")
                let x = original[index] + (withBias ? bias[r] : 0)
                let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
                #expect(abs(Double(fast[index]) - exact) <= 1e-6 * max(1, abs(exact)), "row \(r) column \(c) vs erf")
            }
        }
    }

    /// The same values as the unfused path of the tower: a bias add, then `gelu`.
    @Test func matchesBiasAddThenGELU() throws {
        let bias = try DeterministicData.tensor(seed: 1702, shape: [Self.rows], low: -1, high: 1)
        let x = try DeterministicData.tensor(seed: 1703, shape: [Self.rows, Self.cols], low: -6, high: 6)
        let expected = try gelu(add(x, bias.reshaped([Self.rows, 1]))).floats()
        var fused = x.floats()
        bias.floats().withUnsafeBufferPointer { mg_bias_gelu_rows(&fused, $0.baseAddress, Self.rows, Self.cols, Self.cols) }
        for index in fused.indices {
            #expect(abs(fused[index] - expected[index]) <= 2e-7 * max(1, abs(expected[index])), "index \(index)")
        }
    }

    @Test func columnsToRowsAndBack() throws {
        let (channels, ld, first, count) = (37, 61, 5, 41)  // a [37, 41] block at column 5 of a 61-wide map
        let map = try DeterministicData.tensor(seed: 1704, shape: [channels * ld]).floats()
        var rows = [Float](repeating: .nan, count: count * channels)
        map.withUnsafeBufferPointer { src in
            // Two pieces, as Parallel.forEachChunk may split the pixels.
            mg_columns_to_rows(src.baseAddress! + first, ld, channels, 0, 18, &rows)
            mg_columns_to_rows(src.baseAddress! + first, ld, channels, 18, count - 18, &rows)
        }
        for j in 0..<count {
            for c in 0..<channels { #expect(rows[j * channels + c] == map[c * ld + first + j], "pixel \(j) channel \(c)") }
        }
        var sum = map
        sum.withUnsafeMutableBufferPointer { x in
            mg_add_rows_to_columns(rows, channels, count, 0, 20, x.baseAddress! + first, ld)
            mg_add_rows_to_columns(rows, channels, count, 20, channels - 20, x.baseAddress! + first, ld)
        }
        for c in 0..<channels {
            for j in 0..<ld {
                let inside = j >= first && j < first + count
                #expect(sum[c * ld + j] == (inside ? map[c * ld + j] + map[c * ld + j] : map[c * ld + j]), "channel \(c) column \(j)")
            }
        }
    }

    /// `mg_layer_norm_channels_to_rows` (the bf16 mode's LayerNorm2d fused with the gather) gives
    /// exactly `layerNorm2d` then a transpose: same statistics, same arithmetic. 300 pixels span two
    /// 256-pixel blocks; the range starts inside the plane, in two pieces as the tower splits it.
    @Test func layerNormIntoRowsEqualsLayerNormThenRows() throws {
        let (channels, height, width) = (37, 20, 23)
        let plane = height * width, first = 70, count = 300
        let x = try DeterministicData.tensor(seed: 1710, shape: [1, channels, height, width], low: -3, high: 3)
        let weight = try DeterministicData.tensor(seed: 1711, shape: [channels], low: 0.5, high: 1.5)
        let bias = try DeterministicData.tensor(seed: 1712, shape: [channels], low: -0.5, high: 0.5)
        let normed = try layerNorm2d(x, weight: weight, bias: bias, eps: 1e-6).floats()
        let (source, w, b) = (try x.floats(), try weight.floats(), try bias.floats())
        var rows = [Float](repeating: .nan, count: count * channels)
        var scratch = [Float](repeating: 0, count: channels * Int(MG_LAYER_NORM_CHANNELS_BLOCK))
        rows.withUnsafeMutableBufferPointer { out in
            mg_layer_norm_channels_to_rows(source, w, b, out.baseAddress!, channels, plane, first, first + 256, 1e-6, &scratch)
            mg_layer_norm_channels_to_rows(
                source, w, b, out.baseAddress! + 256 * channels, channels, plane, first + 256, first + count, 1e-6, &scratch)
        }
        for j in 0..<count {
            for c in 0..<channels {
                #expect(rows[j * channels + c] == normed[c * plane + first + j], "pixel \(first + j) channel \(c)")
            }
        }
    }
}
