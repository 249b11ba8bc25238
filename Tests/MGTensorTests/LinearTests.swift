import Testing
@testable import MGTensor

/// `linear` against `torch.nn.functional.linear`; 16-bit weights are compared with the reference
/// computed on their exact F32 upcast (Tools/goldens/gemm_ops.py).
@Suite struct LinearTests {
    /// F32, F16 and BF16 weights, with and without bias, for batched and single-row inputs
    /// (GEMM, sgemv, fused widen-and-dot kernels); tolerance 1e-5.
    @Test func smallCasesMatchTorch() throws {
        let g = try Golden("mm_linear_small")
        let x = try g.tensor("x"), x1 = try g.tensor("x1"), bias = try g.tensor("bias")
        let w = try g.tensor("w"), wBF16 = try g.tensor("wBF16"), wF16 = try g.tensor("wF16")
        #expect(wBF16.dtype == .bf16 && wF16.dtype == .f16)
        expectClose(try linear(x, weight: w, bias: bias), try g.tensor("out"), tolerance: 1e-5)
        expectClose(try linear(x, weight: w), try g.tensor("outNoBias"), tolerance: 1e-5)
        expectClose(try linear(x1, weight: w, bias: bias), try g.tensor("out1"), tolerance: 1e-5)
        expectClose(try linear(x, weight: wBF16, bias: bias), try g.tensor("outBF16"), tolerance: 1e-5)
        expectClose(try linear(x1, weight: wBF16, bias: bias), try g.tensor("out1BF16"), tolerance: 1e-5)
        expectClose(try linear(x, weight: wF16), try g.tensor("outF16"), tolerance: 1e-5)
        expectClose(try linear(x1, weight: wF16, bias: bias), try g.tensor("out1F16"), tolerance: 1e-5)
        // A rank-1 input is a single row.
        let row = try linear(x1.reshaped([40]), weight: wBF16, bias: bias)
        #expect(row.shape == [70])
        expectClose(row, try g.tensor("out1BF16").reshaped([70]), tolerance: 1e-5)
    }

    /// One layer of a stacked BF16 weight taken with `row(_:)` from the memory-mapped fixture: the
    /// view borrows the mapped bytes, and `linear` converts it block by block (never whole when large).
    @Test func mappedBF16RowView() throws {
        let g = try Golden("mm_linear_small")
        let stacked = try g.tensor("stacked")
        #expect(stacked.storage.isMemoryMapped)
        let layer1 = try stacked.row(1), layer2 = try stacked.row(2)
        #expect(layer1.dtype == .bf16 && layer1.shape == [24, 40])
        expectClose(try linear(g.tensor("x"), weight: layer1), try g.tensor("outStacked1"), tolerance: 1e-5)
        expectClose(try linear(g.tensor("x1"), weight: layer2), try g.tensor("out1Stacked2"), tolerance: 1e-5)
        // A Gemma-sized MLP weight [16384, 2048] is converted 1024 rows (8 MB) at a time.
        #expect(linearWeightBlockRows(outFeatures: 16384, inFeatures: 2048) == 1024)
        #expect(linearWeightBlockRows(outFeatures: 3000, inFeatures: 1024) == 2048)
        #expect(linearWeightBlockRows(outFeatures: 10, inFeatures: 1 << 22) == 10)
    }

    /// CLIP ViT-L MLP size: [577, 1024] × [4096, 1024]ᵀ + bias; tolerance 1e-4.
    @Test func realisticF32() throws {
        let g = try Golden("mm_linear_large")
        let x = try DeterministicData.tensor(seed: 21, shape: [577, 1024])
        let w = try DeterministicData.tensor(seed: 22, shape: [4096, 1024])
        let b = try DeterministicData.tensor(seed: 23, shape: [4096])
        let out = try linear(x, weight: w, bias: b)
        #expect(out.shape == [577, 4096])
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)
    }

    /// A BF16 [3000, 1024] weight: two conversion blocks (2048 + 952 rows) for a [2, 40, 1024] input,
    /// and the fused kernel (BF16 and F16) for one row; tolerance 1e-4 and 1e-5.
    @Test func realisticSixteenBitWeights() throws {
        let g = try Golden("mm_linear_bf16_large")
        let x = try DeterministicData.tensor(seed: 31, shape: [2, 40, 1024])
        let weightF32 = try DeterministicData.tensor(seed: 32, shape: [3000, 1024])
        let w = try weightF32.converted(to: .bf16)
        let b = try DeterministicData.tensor(seed: 33, shape: [3000])
        let out = try linear(x, weight: w, bias: b)
        #expect(out.shape == [2, 40, 3000])
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)

        let decode = try Golden("mm_linear_bf16_decode")
        let x1 = try DeterministicData.tensor(seed: 34, shape: [1, 1024])
        expectClose(try linear(x1, weight: w, bias: b), try decode.tensor("expected"), tolerance: 1e-5)
        expectClose(try linear(x1, weight: weightF32.converted(to: .f16)), try decode.tensor("expectedF16"), tolerance: 1e-5)
    }

    @Test func emptyInputs() throws {
        let w = try Tensor.zeros([5, 0])
        let bias = try Tensor(shape: [5], values: [1, 2, 3, 4, 5])
        let out = try linear(Tensor.zeros([2, 0]), weight: w, bias: bias)
        #expect(out.floats() == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5])
        #expect(try linear(Tensor.zeros([0, 3]), weight: Tensor.zeros([5, 3])).shape == [0, 5])
    }

    @Test func rejectsBadShapes() throws {
        let x = try Tensor.zeros([2, 4])
        #expect(throws: TensorError.shapeMismatch(operation: "linear", [2, 4], [3, 5])) {
            try linear(x, weight: Tensor.zeros([3, 5]))
        }
        #expect(throws: TensorError.shapeMismatch(operation: "linear bias", [4], [3])) {
            try linear(x, weight: Tensor.zeros([3, 4]), bias: Tensor.zeros([4]))
        }
        #expect(throws: TensorError.self) { try linear(x, weight: Tensor.zeros([2, 3, 4])) }
        #expect(throws: TensorError.self) { try linear(Tensor.zeros([]), weight: Tensor.zeros([3, 1])) }
    }
}
