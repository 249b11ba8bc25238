import Testing
@testable import MGTensor

/// The batched decode product (`fewRowLinear`: `mg_gemv_bf16_batch` / `mg_gemv_f16_batch`) against
/// a Float64 product of the same 16-bit weights, at the kernel tier the process runs (CI repeats
/// it under every MG_MAX_ISA cap). The shapes leave remainders everywhere: output rows not a
/// multiple of the 3- and 4-row register blocks, columns with a tail after the 16-wide vectors,
/// and batches below, at and above the 8-row group.
@Suite struct FewRowLinearTests {
    @Test("batched 16-bit products equal a Float64 product", arguments: [2, 3, 4, 5, 7, 8, 9, 13, 16])
    func matchesFloat64(batch: Int) throws {
        let outFeatures = 37, inFeatures = 70
        var generator = FewRowInputs(seed: UInt64(batch))
        let x = try Tensor(shape: [batch, inFeatures], values: (0..<batch * inFeatures).map { _ in generator.nextSigned() })
        let weights = try Tensor(shape: [outFeatures, inFeatures], values: (0..<outFeatures * inFeatures).map { _ in generator.nextSigned() })
        let bias = try Tensor(shape: [outFeatures], values: (0..<outFeatures).map { _ in generator.nextSigned() })
        for dtype in [DType.bf16, .f16] {
            let weight = try weights.converted(to: dtype)
            let exact = try weight.asFloat32().floats(), input = x.floats(), offsets = bias.floats()
            for withBias in [false, true] {
                let result = try #require(try fewRowLinear(x, weight: weight, bias: withBias ? bias : nil))
                #expect(result.shape == [batch, outFeatures])
                let got = result.floats()
                var worst = 0.0
                for b in 0..<batch {
                    for r in 0..<outFeatures {
                        var sum = withBias ? Double(offsets[r]) : 0, magnitude = withBias ? abs(Double(offsets[r])) : 0
                        for k in 0..<inFeatures {
                            let product = Double(input[b * inFeatures + k]) * Double(exact[r * inFeatures + k])
                            sum += product
                            magnitude += abs(product)
                        }
                        worst = max(worst, abs(Double(got[b * outFeatures + r]) - sum) / magnitude)
                    }
                }
                // F32 accumulation of 70 products: a few ulps of the summed magnitudes.
                #expect(worst <= 1e-6, "\(dtype) batch \(batch) bias \(withBias): relative error \(worst)")
            }
        }
    }

    @Test("bf16 activations: rows rounded to bf16, then a Float64-accurate product", arguments: [2, 3, 5, 8, 9, 16])
    func bfloat16Activations(batch: Int) throws {
        // 101 columns: three 32-wide vdpbf16ps steps and a masked tail; 37 rows: 3-row blocks and a tail.
        let outFeatures = 37, inFeatures = 101
        var generator = FewRowInputs(seed: UInt64(100 + batch))
        let x = try Tensor(shape: [batch, inFeatures], values: (0..<batch * inFeatures).map { _ in generator.nextSigned() })
        let weight = try Tensor(shape: [outFeatures, inFeatures], values: (0..<outFeatures * inFeatures).map { _ in generator.nextSigned() })
            .converted(to: .bf16)
        let bias = try Tensor(shape: [outFeatures], values: (0..<outFeatures).map { _ in generator.nextSigned() })
        let result = try #require(try fewRowLinear(x, weight: weight, bias: bias, precision: .bfloat16Activations))
        let packed = MatrixKernels.packedBF16Tier != nil
        // At a packed tier the rows enter as bf16; elsewhere the mode leaves the product exact.
        let input = packed ? try x.converted(to: .bf16).asFloat32().floats() : x.floats()
        let exact = try weight.asFloat32().floats(), offsets = bias.floats(), got = result.floats()
        var worst = 0.0, fromUnrounded = 0.0
        for b in 0..<batch {
            for r in 0..<outFeatures {
                var sum = Double(offsets[r]), unrounded = Double(offsets[r]), magnitude = abs(Double(offsets[r]))
                for k in 0..<inFeatures {
                    let w = Double(exact[r * inFeatures + k])
                    sum += Double(input[b * inFeatures + k]) * w
                    unrounded += Double(x.floats()[b * inFeatures + k]) * w
                    magnitude += abs(Double(input[b * inFeatures + k]) * w)
                }
                worst = max(worst, abs(Double(got[b * outFeatures + r]) - sum) / magnitude)
                fromUnrounded = max(fromUnrounded, abs(Double(got[b * outFeatures + r]) - unrounded) / magnitude)
            }
        }
        #expect(worst <= 1e-6, "batch \(batch): relative error \(worst) against the product of the rounded rows")
        // The rounding is 2⁻⁹ per activation: it must show when the mode runs, and must not otherwise.
        if packed {
            #expect(fromUnrounded > 1e-5 && fromUnrounded < 1e-2, "batch \(batch): \(fromUnrounded) from the unrounded product")
        } else {
            #expect(fromUnrounded <= 1e-6)
        }
    }

    @Test("other shapes and types are left to the general path")
    func declines() throws {
        let weight = try Tensor(shape: [4, 8], values: [Float](repeating: 1, count: 32)).converted(to: .bf16)
        let one = try Tensor(shape: [1, 8], values: [Float](repeating: 1, count: 8))
        let many = try Tensor(shape: [17, 8], values: [Float](repeating: 1, count: 17 * 8))
        #expect(try fewRowLinear(one, weight: weight, bias: nil) == nil)
        #expect(try fewRowLinear(many, weight: weight, bias: nil) == nil)
        let wide = try Tensor(shape: [2, 8], values: [Float](repeating: 1, count: 16))
        #expect(try fewRowLinear(wide, weight: try weight.asFloat32(), bias: nil) == nil)
    }
}

/// A small deterministic generator (SplitMix64) for test inputs in [-1, 1).
private struct FewRowInputs {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func nextSigned() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49EB_0031_33EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24) * 2 - 1
    }
}
