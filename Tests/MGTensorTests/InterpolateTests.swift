import Testing
@testable import MGTensor

/// `interpolateBilinear` against `F.interpolate(mode="bilinear", align_corners=False)`
/// (Tools/goldens/spatial_ops.py). Tolerance 1e-5; for outputs where PyTorch uses its separable
/// kernel (height + width > 128) the results are also required to be bit-identical.
@Suite struct InterpolateTests {
    /// Odd sizes and factors, up and down, stored inputs; tolerance 1e-5.
    @Test func smallCasesMatchTorch() throws {
        let g = try Golden("sp_bilinear_small")
        for index in 0..<4 {
            let expected = try g.tensor("expected\(index)")
            let out = try interpolateBilinear(
                g.tensor("input\(index)"), size: (expected.shape[2], expected.shape[3]))
            expectClose(out, expected, tolerance: 1e-5)
        }
    }

    /// MGM's resizes (channels reduced): 768→336, 1536→672, 672→336, 24/48/96→192 (×8, ×4, ×2),
    /// 384→192 and a rectangular batch-2 case; bit-identical to PyTorch.
    @Test(arguments: [
        "sp_bilinear_768_336", "sp_bilinear_1536_672", "sp_bilinear_672_336", "sp_bilinear_24_192",
        "sp_bilinear_48_192", "sp_bilinear_96_192", "sp_bilinear_384_192", "sp_bilinear_rect",
    ])
    func realisticSizes(name: String) throws {
        let g = try Golden(name)
        let x = try DeterministicData.tensor(seed: g.meta("seed"), shape: g.meta("input_shape"))
        let size: [Int] = try g.meta("size")
        let out = try interpolateBilinear(x, size: (size[0], size[1]))
        #expect(out.shape == (try g.meta("shape", as: [Int].self)))
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 0)
    }

    /// `scale_factor` semantics (output floor(in·f), coordinates with 1/f): 0.5 as in MGM, 0.3
    /// (in/out ≠ 1/f) and 2.5; bit-identical to PyTorch.
    @Test(arguments: 0..<3)
    func scaleFactor(index: Int) throws {
        let g = try Golden("sp_bilinear_scale\(index)")
        let x = try DeterministicData.tensor(seed: g.meta("seed"), shape: g.meta("input_shape"))
        let out = try interpolateBilinear(x, scaleFactor: g.meta("scale_factor", as: Double.self))
        #expect(out.shape == (try g.meta("shape", as: [Int].self)))
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 0)
    }

    /// Same size is a copy; BF16 input is upcast first.
    @Test func identityAndSixteenBitInput() throws {
        let x = try DeterministicData.tensor(seed: 3, shape: [1, 2, 5, 6])
        #expect(try interpolateBilinear(x, size: (5, 6)).floats() == x.floats())
        let half = try x.converted(to: .bf16)
        #expect(try interpolateBilinear(half, size: (9, 4)).floats() == interpolateBilinear(half.asFloat32(), size: (9, 4)).floats())
    }

    @Test func invalidArgumentsThrow() throws {
        let x = try Tensor.zeros([1, 2, 4, 4])
        #expect(throws: TensorError.invalidArgument(operation: "interpolateBilinear", reason: "output size must be positive, got (0, 3)")) {
            try interpolateBilinear(x, size: (0, 3))
        }
        #expect(throws: TensorError.self) { try interpolateBilinear(x.reshaped([2, 4, 4]), size: (2, 2)) }
        #expect(throws: TensorError.self) { try interpolateBilinear(x, scaleFactor: 0.1) }
        #expect(throws: TensorError.self) { try interpolateBilinear(x, scaleFactor: -2) }
        #expect(throws: TensorError.self) { try interpolateBilinear(x, scaleFactor: .nan) }
        #expect(throws: TensorError.self) { try interpolateBilinear(Tensor.zeros([1, 1, 0, 3]), size: (2, 2)) }
    }
}
