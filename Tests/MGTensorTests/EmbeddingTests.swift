import Testing
@testable import MGTensor

/// `embedding` against `F.embedding(ids, table).float()` for BF16, F16 and F32 tables; the gathered
/// rows are converted exactly, so results must be identical.
@Suite struct EmbeddingTests {
    @Test(arguments: ["bf16", "f16", "f32"])
    func gatherMatchesTorch(dtype: String) throws {
        let g = try Golden("sp_embedding_\(dtype)")
        let table = try g.tensor("table")
        #expect(table.dtype.rawValue.lowercased() == dtype)
        let out = try embedding(ids: g.meta("ids"), table: table)
        let expected = try g.tensor("expected")
        #expect(out.shape == expected.shape && out.dtype == .f32)
        #expect(out.floats() == expected.floats())
    }

    /// Enough ids to split over the cores.
    @Test func manyIds() throws {
        let table = try DeterministicData.tensor(seed: 5, shape: [300, 512]).converted(to: .bf16)
        let ids = (0..<1000).map { ($0 * 7919) % 300 }
        let out = try embedding(ids: ids, table: table).floats()
        let all = table.floats()
        #expect(ids.indices.allSatisfy { row in
            out[row * 512..<(row + 1) * 512].elementsEqual(all[ids[row] * 512..<(ids[row] + 1) * 512])
        })
        #expect(try embedding(ids: [], table: table).shape == [0, 512])
    }

    @Test func invalidArgumentsThrow() throws {
        let table = try Tensor.zeros([10, 4])
        #expect(throws: TensorError.indexOutOfRange(operation: "embedding", index: 10, count: 10)) {
            try embedding(ids: [1, 10], table: table)
        }
        #expect(throws: TensorError.indexOutOfRange(operation: "embedding", index: -1, count: 10)) {
            try embedding(ids: [-1], table: table)
        }
        #expect(throws: TensorError.self) { try embedding(ids: [0], table: table.reshaped([40])) }
    }
}
