import Foundation
import MGTestSupport
import Testing
@testable import MGTensor

/// GGML block (de)quantization against the gguf Python package (`Tools/gguf/make_quant_goldens.py`):
/// tolerance zero, compared as float bit patterns.
@Suite struct QuantizationGoldenTests {
    let golden: Golden
    init() throws { golden = try Golden("quant_blocks", bundle: .module) }

    private func matrix(_ format: QuantizationFormat) throws -> QuantizedMatrix {
        let blocks = try golden.tensor("\(format.name.lowercased()).blocks")
        return try QuantizedMatrix(format: format, rows: blocks.shape[0], columns: format.blockSize, storage: blocks.storage)
    }

    @Test(arguments: [QuantizationFormat.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
    func dequantizationIsBitExact(format: QuantizationFormat) throws {
        let expected = try golden.tensor("\(format.name.lowercased()).values").floats()
        let actual = try matrix(format).dequantized().floats()
        #expect(actual.count == expected.count)
        let mismatches = zip(actual, expected).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(mismatches == 0, "\(format.name): \(mismatches) of \(expected.count) values differ")
    }

    @Test(arguments: [QuantizationFormat.q8_0, .q4_0, .q5_0])
    func quantizationIsBitExact(format: QuantizationFormat) throws {
        let input = try golden.tensor("\(format.name.lowercased()).input")
        let expected = try golden.tensor("\(format.name.lowercased()).quantized")
        let quantized = try QuantizedMatrix.quantizing(input, to: format)
        let actual = Array(UnsafeRawBufferPointer(start: quantized.storage.base, count: quantized.storage.byteCount))
        let reference = expected.withUnsafeBytes { Array($0) }
        #expect(actual == reference)
    }

    /// The K-quant quantizers are this project's own (not byte-identical to llama.cpp's): bound their
    /// round-trip error on Gaussian rows. Q6_K ≲ 1/64 and Q4_K ≲ 1/8 of the row's max |x| per value.
    @Test(arguments: [(QuantizationFormat.q6_K, Float(0.012)), (.q4_K, Float(0.09)), (.q8_0, Float(0.005)), (.q4_0, Float(0.08))])
    func roundTripErrorIsBounded(format: QuantizationFormat, bound: Float) throws {
        var generator = SplitMix(seed: 5)
        let values = (0..<(8 * 512)).map { _ in generator.gaussian() }
        let tensor = try Tensor(shape: [8, 512], values: values)
        let back = try QuantizedMatrix.quantizing(tensor, to: format).dequantized().floats()
        let maxAbs = values.map(abs).max() ?? 1
        let rms = (zip(values, back).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(rms / maxAbs < bound, "\(format.name) rms error \(rms) vs max \(maxAbs)")
        let worst = zip(values, back).map { abs($0 - $1) }.max() ?? 0
        #expect(worst / maxAbs < bound * 4)
    }

    @Test func quantizedLinearMatchesDenseProduct() throws {
        var generator = SplitMix(seed: 9)
        for (rows, format) in [(1, QuantizationFormat.q8_0), (5, .q4_K), (3, .q6_K), (1, .q4_0)] {
            let weight = try Tensor(shape: [300, 512], values: (0..<(300 * 512)).map { _ in generator.gaussian() })
            let x = try Tensor(shape: [rows, 512], values: (0..<(rows * 512)).map { _ in generator.gaussian() })
            let bias = try Tensor(shape: [300], values: (0..<300).map { _ in generator.gaussian() })
            let quantized = try QuantizedMatrix.quantizing(weight, to: format)
            let reference = try linear(x, weight: quantized.dequantized(), bias: bias).floats()
            let actual = try quantizedLinear(x, weight: quantized, bias: bias, integerKernels: false).floats()
            let worst = zip(reference, actual).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-3, "\(format.name) rows \(rows): max difference \(worst)")
            // The integer kernels round each activation to 8 bits per block (max |x| of the block
            // over 127, as llama.cpp): output i moves by at most Σ_j |W_ij| · amax(block of j) / 254.
            let integer = try quantizedLinear(x, weight: quantized, bias: bias).floats()
            let w = try quantized.dequantized().floats(), xs = x.floats()
            let block = format.blockSize
            for r in 0..<rows {
                let amax = (0..<(512 / block)).map { b in xs[(r * 512 + b * block)..<(r * 512 + (b + 1) * block)].map(abs).max() ?? 0 }
                for i in 0..<300 {
                    var bound: Float = 1e-3
                    for j in 0..<512 { bound += abs(w[i * 512 + j]) * amax[j / block] / 254 }
                    let difference = abs(integer[r * 300 + i] - reference[r * 300 + i])
                    #expect(difference <= bound * 1.01, "\(format.name) row \(r) output \(i): \(difference) > \(bound)")
                }
            }
        }
    }

    @Test func quantizedLinearRejectsMismatchedInput() throws {
        let weight = try QuantizedMatrix.quantizing(try Tensor.zeros([4, 32]), to: .q8_0)
        #expect(throws: TensorError.self) { try quantizedLinear(try Tensor.zeros([1, 31]), weight: weight, bias: nil) }
        #expect(throws: TensorError.self) { try quantizedLinear(try Tensor.zeros([1, 32]), weight: weight, bias: try Tensor.zeros([3])) }
    }
}

/// A small deterministic generator (the tests need no external randomness).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) }
    mutating func gaussian() -> Float {
        let u = max(uniform(), 1e-7), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
