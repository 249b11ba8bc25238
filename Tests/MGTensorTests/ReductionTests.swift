import MGTensor
import Testing

@Suite("Reductions")
struct ReductionTests {
    /// argmax along each axis with ties (first index wins), NaN (first NaN wins) and an all −∞ row;
    /// results must equal PyTorch's exactly.
    @Test func argmaxMatchesPyTorch() throws {
        let golden = try Golden("pw_reduce")
        let x = try golden.tensor("argmax.x")
        #expect(try argmax(x, axis: -1) == pointwiseIntegers(golden.tensor("argmax.last")))
        let firstTwoRows = try Tensor(shape: [2, 4], values: Array(x.floats()[0..<8]))
        #expect(try argmax(firstTwoRows, axis: 0) == pointwiseIntegers(golden.tensor("argmax.first")))
        #expect(try argmax(golden.tensor("topk0.x"), axis: 0) == pointwiseIntegers(golden.tensor("argmax0.out")))
    }

    /// top-k along the last axis and along axis 0 (distinct values), exact.
    @Test func topKMatchesPyTorch() throws {
        let golden = try Golden("pw_reduce")
        let last = try topK(golden.tensor("topk.x"), k: 5)
        #expect(last.values.shape == [3, 5])
        #expect(try last.values.floats() == golden.tensor("topk.values").floats())
        #expect(last.indices == pointwiseIntegers(try golden.tensor("topk.indices")))
        let first = try topK(golden.tensor("topk0.x"), k: 4, axis: 0)
        #expect(first.values.shape == [4, 3])
        #expect(try first.values.floats() == golden.tensor("topk0.values").floats())
        #expect(first.indices == pointwiseIntegers(try golden.tensor("topk0.indices")))
    }

    /// Gemma's 256 000-entry vocabulary: argmax and the top 40, exact.
    @Test func vocabularySize() throws {
        let golden = try Golden("pw_reduce")
        let logits = try DeterministicData.tensor(seed: 82, shape: [256_000], low: -20, high: 20)
        #expect(try argmax(logits) == pointwiseIntegers(golden.tensor("vocab.argmax"))[0])
        let top = try topK(logits, k: 40)
        #expect(try top.values.floats() == golden.tensor("vocab.values").floats())
        #expect(top.indices == pointwiseIntegers(try golden.tensor("vocab.indices")))
    }

    /// Documented orderings: ties by lower index first, NaN above every number.
    @Test func tiesAndNaN() throws {
        let x = try Tensor(shape: [6], values: [1, 3, 3, .nan, 2, 3])
        let top = try topK(x, k: 4)
        #expect(top.indices == [3, 1, 2, 5])
        #expect(try argmax(x) == 3)
        let all = try topK(x, k: 6)
        #expect(all.indices == [3, 1, 2, 5, 4, 0])
        #expect(try topK(x, k: 0).values.shape == [0])
    }

    @Test func rejectsBadArguments() throws {
        let x = try Tensor.zeros([2, 3])
        #expect(throws: TensorError.invalidArgument(operation: "topK", reason: "k = 4 is outside 0...3")) { try topK(x, k: 4) }
        #expect(throws: TensorError.invalidAxis(operation: "argmax", axis: -3, rank: 2)) { try argmax(x, axis: -3) }
        #expect(throws: TensorError.self) { try argmax(Tensor.zeros([2, 0]), axis: 1) }
    }
}
