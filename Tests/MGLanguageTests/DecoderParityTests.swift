import Foundation
import MGTensor
import MGTestSupport
import Testing
@testable import MGLanguage

/// Tiny random-weight Llama / Llama-3 (GQA, θ 500000, BF16) / Mistral (window 5, F16) /
/// Mixtral (4 experts, top-2) / Gemma (MQA, head_dim ≠ hidden/heads, BF16, tied) against
/// transformers in float32 eager attention. Tolerance: relative error ≤ 1e-4 on logits.
@Suite("Decoder parity with transformers")
struct DecoderParityTests {
    @Test("logits of every prompt position", arguments: DecoderFixture.families)
    func logitsAllPositions(family: String) throws {
        let model = try DecoderFixture.model(family)
        let expected = try DecoderFixture.expected(family)
        let ids = DecoderFixture.ids(try expected.tensor(named: "input_ids"))
        var cache = try model.newCache(maximumLength: 64)
        let logits = try model.forward(ids: ids, cache: &cache, logits: .allPositions)
        let reference = try expected.tensor(named: "logits")
        #expect(logits.shape == reference.shape)
        let error = relativeError(logits.floats(), reference.floats())
        #expect(error <= 1e-4, "\(family): relative error \(error)")
        #expect(cache.length == ids.count)
    }

    @Test("logits when feeding inputs_embeds", arguments: DecoderFixture.families)
    func logitsFromEmbeddings(family: String) throws {
        let model = try DecoderFixture.model(family)
        let expected = try DecoderFixture.expected(family)
        var cache = try model.newCache(maximumLength: 64)
        let logits = try model.forward(inputEmbeddings: try expected.tensor(named: "inputs_embeds"), cache: &cache, logits: .allPositions)
        let error = relativeError(logits.floats(), try expected.tensor(named: "embeds_logits").floats())
        #expect(error <= 1e-4, "\(family): relative error \(error)")
    }

    @Test("32 greedy tokens equal generate(do_sample=False)", arguments: DecoderFixture.families)
    func greedyTokens(family: String) throws {
        let model = try DecoderFixture.model(family)
        let expected = try DecoderFixture.expected(family)
        let ids = DecoderFixture.ids(try expected.tensor(named: "input_ids"))
        let reference = DecoderFixture.ids(try expected.tensor(named: "greedy"))
        let parameters = GenerationParameters(maximumTokens: reference.count, stopsAtEndOfSequence: false)
        let iterator = try TokenIterator(model: model, prompt: .tokens(ids), parameters: parameters)
        let tokens = Array(iterator.prefix(reference.count))
        #expect(tokens == reference)
        #expect(iterator.error == nil)
    }

    @Test("last-position logits equal the last row of all positions")
    func lastPosition() throws {
        let model = try DecoderFixture.model("gemma")
        let ids = [3, 8, 1, 40, 22]
        var full = try model.newCache(maximumLength: 8)
        var last = try model.newCache(maximumLength: 8)
        let all = try model.forward(ids: ids, cache: &full, logits: .allPositions).floats()
        let one = try model.forward(ids: ids, cache: &last).floats()
        let vocab = model.configuration.vocabularySize
        // 1e-5, not 1e-6: with BF16 weights on an AMX CPU the all-positions head is a multi-row
        // product on the tile kernel (activations split into two bf16 halves, ~2e-6 relative),
        // while one row uses the exact F32 widen-and-dot kernel.
        #expect(relativeError(one, Array(all[(ids.count - 1) * vocab..<ids.count * vocab])) <= 1e-5)
    }

    @Test("weights stay in their stored dtype")
    func storedDType() throws {
        let model = try DecoderFixture.model("llama3")
        #expect(model.embeddingTable.denseTensor?.dtype == .bf16)
        #expect(model.embeddingTable.denseTensor?.storage.isMemoryMapped == true)
        if case .dense(let gate, _, _) = model.layers[0].feedForward { #expect(gate.denseTensor?.dtype == .bf16) }
        let mistral = try DecoderFixture.model("mistral")
        #expect(mistral.outputProjection.denseTensor?.dtype == .f16)
        #expect(mistral.configuration.slidingWindow == 5)
        // A tied head is the mapped BF16 table itself, never an upcast copy.
        let gemma = try DecoderFixture.model("gemma")
        #expect(gemma.embeddingTable.denseTensor?.dtype == .bf16)
        #expect(gemma.outputProjection.denseTensor?.storage.isMemoryMapped == true)
        #expect(gemma.outputProjection.denseTensor?.storage === gemma.embeddingTable.denseTensor?.storage)
    }
}
