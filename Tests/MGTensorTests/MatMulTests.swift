import Testing
@testable import MGTensor

/// `matmul` / `batchedMatmul` against `torch.matmul` / `torch.bmm` (Tools/goldens/gemm_ops.py).
@Suite struct MatMulTests {
    /// Broadcasting, 2-D, transposed and batch-folded products; tolerance 1e-5.
    @Test func smallCasesMatchTorch() throws {
        let g = try Golden("mm_matmul_small")
        expectClose(try matmul(g.tensor("a"), g.tensor("b")), try g.tensor("out"), tolerance: 1e-5)
        expectClose(try matmul(g.tensor("a2"), g.tensor("b2")), try g.tensor("out2"), tolerance: 1e-5)
        expectClose(try matmul(g.tensor("at"), g.tensor("bt"), transposeB: true), try g.tensor("outT"), tolerance: 1e-5)
        expectClose(try matmul(g.tensor("a3"), g.tensor("b3")), try g.tensor("out3"), tolerance: 1e-5)
        expectClose(try matmul(g.tensor("a4"), g.tensor("b4")), try g.tensor("out4"), tolerance: 1e-5)
        expectClose(try batchedMatmul(g.tensor("at"), g.tensor("bt"), transposeB: true), try g.tensor("bmmOut"), tolerance: 1e-5)
    }

    /// F16/BF16 operands are read as their exact F32 values.
    @Test func halfPrecisionOperands() throws {
        let g = try Golden("mm_matmul_small")
        let a = try g.tensor("a2"), b = try g.tensor("b2")
        let expected = try matmul(a, b.converted(to: .bf16).asFloat32())
        expectClose(try matmul(a, b.converted(to: .bf16)), expected, tolerance: 0)
    }

    /// A [2, 577, 256] activation times a [256, 1024] weight, folded into one GEMM; tolerance 1e-4.
    @Test func foldedRealisticSize() throws {
        let g = try Golden("mm_matmul_fold")
        let a = try DeterministicData.tensor(seed: 11, shape: [2, 577, 256])
        let b = try DeterministicData.tensor(seed: 12, shape: [256, 1024])
        let out = try matmul(a, b)
        #expect(out.shape == [2, 577, 1024])
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)
    }

    /// Sixteen per-head [577, 64] × [64, 577] products (the parallel small-GEMM path); tolerance 1e-4.
    @Test func batchedRealisticSize() throws {
        let g = try Golden("mm_matmul_batched")
        let a = try DeterministicData.tensor(seed: 13, shape: [16, 577, 64])
        let b = try DeterministicData.tensor(seed: 14, shape: [16, 64, 577])
        let out = try batchedMatmul(a, b)
        #expect(out.shape == [16, 577, 577])
        expectCloseAtSamples(out, indices: try g.tensor("indices"), expected: try g.tensor("expected"), tolerance: 1e-4)
    }

    @Test func emptyAndZeroInnerDimensions() throws {
        let zeroK = try matmul(Tensor.zeros([3, 0]), Tensor.zeros([0, 2]))
        #expect(zeroK.shape == [3, 2])
        #expect(zeroK.floats() == [Float](repeating: 0, count: 6))
        let empty = try matmul(Tensor.zeros([0, 4]), Tensor.zeros([4, 5]))
        #expect(empty.shape == [0, 5])
    }

    @Test func rejectsBadShapes() throws {
        let a = try Tensor.zeros([2, 3, 4])
        #expect(throws: TensorError.shapeMismatch(operation: "matmul", [2, 3, 4], [5, 6])) {
            try matmul(a, Tensor.zeros([5, 6]))
        }
        #expect(throws: TensorError.shapeMismatch(operation: "matmul", [2, 3, 4], [3, 4, 6])) {
            try matmul(a, Tensor.zeros([3, 4, 6]))
        }
        #expect(throws: TensorError.self) { try matmul(Tensor.zeros([4]), Tensor.zeros([4, 2])) }
        #expect(throws: TensorError.shapeMismatch(operation: "matmul", [2, 3, 4], [2, 5, 4])) {
            try matmul(a, Tensor.zeros([2, 5, 4]))
        }
        #expect(throws: TensorError.shapeMismatch(operation: "batchedMatmul", [2, 3, 4], [3, 4, 5])) {
            try batchedMatmul(a, Tensor.zeros([3, 4, 5]))
        }
        #expect(throws: TensorError.self) { try batchedMatmul(a, Tensor.zeros([4, 5])) }
    }
}
