import MGTensor
import MGTestSupport
import Testing
@testable import MGLanguage

/// A batched decode step (one [B, hidden] pass over the weights, attention per sequence against its
/// own cache) must equal B separate single-token steps: relative error ≤ 5e-5 per sequence, the
/// bound of `KVCacheTests` for the same model computed with a different split (multi-row products
/// may take another kernel than single rows), and the same greedy tokens.
@Suite("Batched decoding")
struct BatchedDecodingTests {
    @Test("a batched step equals separate steps", arguments: DecoderFixture.families)
    func batchedEqualsSeparate(family: String) throws {
        let model = try DecoderFixture.model(family)
        let vocab = model.configuration.vocabularySize
        // Four sequences of different lengths, so every row sits at another position.
        let prompts = [[3, 17, 42], [9, 25, 60, 11, 5, 33, 48], [2], [57, 7, 19, 4, 8]]
        var caches: [KVCache] = []
        var next: [Int] = []
        for prompt in prompts {
            var cache = try model.newCache(maximumLength: 16)
            let logits = try model.forward(ids: prompt, cache: &cache).floats()
            next.append(argmax(logits))
            caches.append(cache)
        }
        var separate = caches  // copy-on-write: the two sets of caches evolve independently
        for step in 0..<3 {
            let batched = try model.decodeStep(ids: next, caches: &caches).floats()
            #expect(batched.count == prompts.count * vocab)
            var following: [Int] = []
            for b in prompts.indices {
                let reference = try model.forward(ids: [next[b]], cache: &separate[b]).floats()
                let row = Array(batched[(b * vocab)..<((b + 1) * vocab)])
                let error = relativeError(row, reference)
                #expect(error <= 5e-5, "\(family) step \(step) sequence \(b): relative error \(error)")
                #expect(argmax(row) == argmax(reference))
                #expect(caches[b].length == separate[b].length)
                following.append(argmax(reference))
            }
            next = following
        }
    }

    @Test("mismatched inputs are refused")
    func mismatches() throws {
        let model = try DecoderFixture.model("llama")
        var caches = [try model.newCache(maximumLength: 4), try model.newCache(maximumLength: 4)]
        #expect(throws: LanguageModelError.self) { _ = try model.decodeStep(ids: [1], caches: &caches) }
        var empty: [KVCache] = []
        #expect(throws: LanguageModelError.self) { _ = try model.decodeStep(ids: [], caches: &empty) }
        var full = [try model.newCache(maximumLength: 1)]
        _ = try model.decodeStep(ids: [1], caches: &full)
        #expect(throws: LanguageModelError.self) { _ = try model.decodeStep(ids: [2], caches: &full) }
        #expect(full[0].length == 1)
    }

    private func argmax(_ values: [Float]) -> Int {
        values.indices.max { values[$0] < values[$1] } ?? 0
    }
}
