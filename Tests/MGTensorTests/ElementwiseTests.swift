import MGTensor
import Testing

/// The elements of an I64 fixture tensor as `[Int]`.
func pointwiseIntegers(_ tensor: Tensor) -> [Int] {
    tensor.withUnsafeBytes { raw in raw.bindMemory(to: Int64.self).map { Int($0) } }
}

@Suite("Element-wise arithmetic")
struct ElementwiseTests {
    /// Broadcasting add/sub/mul/div against PyTorch for same-shape, trailing-vector, per-channel,
    /// outer-product, scalar, left-padded and two-sided broadcasts. Tolerance 1e-6.
    @Test func broadcastingMatchesPyTorch() throws {
        let golden = try Golden("pw_binary_small")
        let cases: [String] = try golden.meta("cases")
        for name in cases {
            let a = try golden.tensor("\(name).a"), b = try golden.tensor("\(name).b")
            expectClose(try add(a, b), try golden.tensor("\(name).add"), tolerance: 1e-6)
            expectClose(try sub(a, b), try golden.tensor("\(name).sub"), tolerance: 1e-6)
            expectClose(try mul(a, b), try golden.tensor("\(name).mul"), tolerance: 1e-6)
            expectClose(try div(a, golden.tensor("\(name).bdiv")), try golden.tensor("\(name).div"), tolerance: 1e-6)
        }
    }

    /// In-place forms give the same values as the allocating ones when `y` broadcasts to `x`.
    @Test func inPlaceMatchesPyTorch() throws {
        let golden = try Golden("pw_binary_small")
        for name in ["bias", "same", "rows", "nchw", "scalar"] {
            var x = try golden.tensor("\(name).a")
            try addInPlace(&x, golden.tensor("\(name).b"))
            expectClose(x, try golden.tensor("\(name).add"), tolerance: 1e-6)
            var y = try golden.tensor("\(name).a")
            try mulInPlace(&y, golden.tensor("\(name).b"))
            expectClose(y, try golden.tensor("\(name).mul"), tolerance: 1e-6)
        }
    }

    /// In-place updates do not write through to other copies of the tensor (copy on write).
    @Test func inPlaceCopiesSharedStorage() throws {
        let original = try Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        var copy = original
        try addInPlace(&copy, Tensor(shape: [2], values: [10, 20]))
        #expect(copy.floats() == [11, 22, 13, 24])
        #expect(original.floats() == [1, 2, 3, 4])
    }

    @Test func scaleAndNanToNum() throws {
        let golden = try Golden("pw_binary_small")
        expectClose(try scale(golden.tensor("scale.x"), by: 0.125), try golden.tensor("scale.out"), tolerance: 0)
        let special = try golden.tensor("nan.x")
        #expect(try nanToNum(special).floats() == golden.tensor("nan.default").floats())
        #expect(try nanToNum(special, nan: 1.5, posInf: 100, negInf: -7).floats() == golden.tensor("nan.custom").floats())
    }

    /// `[577, 1024] + [1024]` (a ViT bias) at sampled positions. Tolerance 1e-6.
    @Test func largeBiasAdd() throws {
        let golden = try Golden("pw_add_large")
        let a = try DeterministicData.tensor(seed: 31, shape: [577, 1024])
        let b = try DeterministicData.tensor(seed: 32, shape: [1024])
        let out = try add(a, b)
        #expect(out.shape == [577, 1024])
        expectCloseAtSamples(out, indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-6)
    }

    /// `[1, 192, 96, 96] · [1, 192, 1, 1]` (a per-channel scale) at sampled positions. Tolerance 1e-6.
    @Test func largeChannelMul() throws {
        let golden = try Golden("pw_mul_large")
        let a = try DeterministicData.tensor(seed: 33, shape: [1, 192, 96, 96])
        let b = try DeterministicData.tensor(seed: 34, shape: [1, 192, 1, 1])
        expectCloseAtSamples(try mul(a, b), indices: try golden.tensor("indices"), expected: try golden.tensor("expected"), tolerance: 1e-6)
    }

    /// Half-precision operands are widened first; rank-0 tensors broadcast like scalars.
    @Test func mixedDTypesAndScalars() throws {
        let a = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [3], values: [0.5, 0.25, 2]).converted(to: .bf16)
        #expect(try add(a, b).floats() == [1.5, 2.25, 5, 4.5, 5.25, 8])
        let scalar = try Tensor(shape: [], values: [2])
        let product = try mul(scalar, a)
        #expect(product.shape == [2, 3])
        #expect(product.floats() == [2, 4, 6, 8, 10, 12])
        #expect(try broadcastShape([8, 1, 6, 1], [7, 1, 5]) == [8, 7, 6, 5])
        let empty = try add(Tensor.zeros([0, 3]), Tensor(shape: [3], values: [1, 2, 3]))
        #expect(empty.shape == [0, 3])
    }

    @Test func rejectsBadShapesAndTypes() throws {
        let a = try Tensor.zeros([2, 3])
        #expect(throws: TensorError.shapeMismatch(operation: "add", [2, 3], [4])) { try add(a, Tensor.zeros([4])) }
        var x = try Tensor.zeros([3])
        #expect(throws: TensorError.shapeMismatch(operation: "addInPlace", [3], [2, 3])) { try addInPlace(&x, a) }
        let integers = try [Int64](repeating: 1, count: 3).withUnsafeBytes { raw in
            try Tensor(shape: [3], dtype: .i64, bytes: raw)
        }
        #expect(throws: TensorError.unsupportedDType(operation: "asFloat32", .i64)) { try mul(integers, x) }
    }
}
