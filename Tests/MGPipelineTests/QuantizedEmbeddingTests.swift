import Foundation
import MGTensor
import Testing
@testable import MGLanguage
@testable import MGPipeline

/// A GGUF decoder keeps `token_embd.weight` in its stored blocks: the lookup dequantizes only the
/// gathered rows, and a tied output projection (Gemma, no `output.weight`) multiplies by the same
/// blocks. Compared with the former path, which dequantized the table to F32 at load.
@Suite(.serialized) struct QuantizedEmbeddingTests {
    /// The former loading: the embedding (and so a tied head) as a dense F32 copy.
    struct DequantizedEmbeddingStore: WeightStore {
        let base: any WeightStore
        var names: [String] { base.names }
        func contains(_ name: String) -> Bool { base.contains(name) }
        var rotaryPairsAdjacent: Bool { base.rotaryPairsAdjacent }
        func tensor(named name: String) throws(CheckpointError) -> Tensor { try base.tensor(named: name) }
        func matrix(named name: String) throws(CheckpointError) -> MatrixWeight {
            name == "model.embed_tokens.weight" ? .dense(try base.tensor(named: name)) : try base.matrix(named: name)
        }
    }

    private func quantized(_ checkpoint: String, _ type: DecoderQuantization) throws -> URL {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-embedding-\(UUID().uuidString)")
        _ = try QuantizedFolder.write(from: try EndToEndFixtures.checkpoint(checkpoint), to: output, quantization: type)
        return output
    }

    @Test(arguments: ["MGM-2B-tiny", "MGM-7B-tiny"], [DecoderQuantization.q8_0, .q4_0, .f16])
    func lookupEqualsDequantizedRows(checkpoint: String, type: DecoderQuantization) throws {
        let folder = try quantized(checkpoint, type)
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = try DecoderConfiguration(contentsOf: folder)
        let model = try DecoderModel(configuration: configuration, weights: try openCheckpointWeights(directory: folder))
        let file = try GGUFFile(contentsOf: folder.appendingPathComponent(QuantizedFolder.ggufName(type)))
        let stored = try file.matrix(named: "token_embd.weight")
        switch (stored, model.embeddingTable) {
        case (.quantized(let blocks), .quantized(let kept)):
            // The blocks of the file, mapped (not a copy, not widened).
            #expect(kept.format == blocks.format && kept.storage.isMemoryMapped && kept.storage.byteCount == blocks.storage.byteCount)
            #expect(memcmp(kept.rowBase(0), blocks.rowBase(0), blocks.storage.byteCount) == 0)
        case (.dense(let tensor), .dense(let kept)):
            #expect(kept.dtype == tensor.dtype && kept.dtype == .f16 && kept.storage.isMemoryMapped)
        default:
            Issue.record("\(checkpoint) \(type.rawValue): embedding stored as \(stored), kept as \(model.embeddingTable)")
        }
        if configuration.tiedEmbeddings {
            // The head is the table itself, not a copy.
            switch (model.outputProjection, model.embeddingTable) {
            case (.quantized(let head), .quantized(let table)): #expect(head.storage === table.storage)
            case (.dense(let head), .dense(let table)): #expect(head.storage === table.storage)
            default: Issue.record("tied head and table differ in kind")
            }
        }
        let vocab = configuration.vocabularySize, hidden = configuration.hiddenSize
        let ids = [0, vocab - 1, 7, 7, 3, vocab / 2]
        let rows = try model.embed(ids: ids).floats()
        let everything = try file.tensor(named: "token_embd.weight").asFloat32().floats()   // dequantized whole
        for (row, id) in ids.enumerated() {
            #expect(Array(rows[row * hidden..<(row + 1) * hidden]) == Array(everything[id * hidden..<(id + 1) * hidden]), "row \(id)")
        }
        #expect(throws: LanguageModelError.self) { try model.embed(ids: [vocab]) }
    }

    /// Prefill logits of the kept-quantized model against the dequantize-at-load one. Untied
    /// (Llama): identical, since the gathered rows are bit-identical. Tied (Gemma): the head now
    /// runs on the blocks (integer kernels for Q8_0/Q4_0, with activations rounded per block as
    /// llama.cpp does), so logits move by that rounding only — the bounds of
    /// `QuantizedFolderTests.quantizedExportsStayClose` for Q8_0 (KL < 0.02, top-1 ≥ 80 %).
    @Test(arguments: ["MGM-2B-tiny", "MGM-7B-tiny"], [DecoderQuantization.q8_0, .q4_k_m, .q4_0])
    func logitsMatchDequantizeAtLoad(checkpoint: String, type: DecoderQuantization) throws {
        let folder = try quantized(checkpoint, type)
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = try DecoderConfiguration(contentsOf: folder)
        let weights = try openCheckpointWeights(directory: folder)
        func logits(_ store: some WeightStore) throws -> [Float] {
            let model = try DecoderModel(configuration: configuration, weights: store)
            // The same cache on both sides (the wrapping store does not say it is GGUF).
            var cache = try model.newCache(maximumLength: 32, precision: .float32)
            return try model.forward(ids: QuantizedFolderTests.ids, cache: &cache, logits: .allPositions).floats()
        }
        let kept = try logits(weights), former = try logits(DequantizedEmbeddingStore(base: weights))
        let result = QuantizedFolderTests.compare(former, kept, vocab: configuration.vocabularySize)
        print("[embedding] \(checkpoint) \(type.rawValue): top-1 \(result.agreement), KL \(result.kl), max |Δlogit| \(result.maxDiff)")
        if configuration.tiedEmbeddings {
            #expect(result.kl < 0.02 && result.agreement >= 0.8, "\(checkpoint) \(type.rawValue): KL \(result.kl), top-1 \(result.agreement)")
        } else {
            #expect(kept == former)
        }
    }
}
