import MGTensor
import MGTestSupport
import Testing
@testable import MGLanguage

/// Prefill followed by token-by-token decode must reproduce one full forward pass (relative error
/// ≤ 5e-5: the same model split differently; with BF16 weights on an AMX CPU multi-row products
/// use the tile kernel, ~2e-6 relative per product, and single rows the exact F32 kernel).
@Suite("KV cache")
struct KVCacheTests {
    @Test("prefill + decode equals a full forward", arguments: DecoderFixture.families)
    func prefillThenDecode(family: String) throws {
        let model = try DecoderFixture.model(family)
        let ids = [3, 17, 42, 9, 25, 60, 11, 5, 33, 48, 2, 57, 7, 19]
        let vocab = model.configuration.vocabularySize
        var full = try model.newCache(maximumLength: 32)
        let reference = try model.forward(ids: ids, cache: &full, logits: .allPositions).floats()

        var cache = try model.newCache(maximumLength: 32)
        let split = 4
        var actual = try model.forward(ids: Array(ids[..<split]), cache: &cache, logits: .allPositions).floats()
        for id in ids[split...] {
            actual += try model.forward(ids: [id], cache: &cache).floats()
        }
        #expect(cache.length == ids.count)
        let error = relativeError(actual, reference)
        #expect(error <= 5e-5, "\(family): relative error \(error)")
        #expect(actual.count == ids.count * vocab)
    }

    @Test("a second multi-token chunk after a prefill (chat continuation)")
    func chunkedPrefill() throws {
        let model = try DecoderFixture.model("mistral")
        let ids = [3, 17, 42, 9, 25, 60, 11, 5, 33, 48, 2, 57]
        var full = try model.newCache(maximumLength: 16)
        let reference = try model.forward(ids: ids, cache: &full, logits: .allPositions).floats()
        var cache = try model.newCache(maximumLength: 16)
        var actual = try model.forward(ids: Array(ids[..<5]), cache: &cache, logits: .allPositions).floats()
        actual += try model.forward(ids: Array(ids[5...]), cache: &cache, logits: .allPositions).floats()
        #expect(relativeError(actual, reference) <= 1e-5)
    }

    @Test("overflow throws and leaves the cache unchanged")
    func overflow() throws {
        let model = try DecoderFixture.model("llama")
        var cache = try model.newCache(maximumLength: 4)
        _ = try model.forward(ids: [1, 2, 3], cache: &cache)
        #expect(throws: LanguageModelError.cacheOverflow(required: 5, capacity: 4)) {
            _ = try model.forward(ids: [4, 5], cache: &cache)
        }
        #expect(cache.length == 3)
        _ = try model.forward(ids: [4], cache: &cache)
        #expect(cache.length == 4)
    }

    @Test("copies are independent (copy-on-write) and truncate rewinds")
    func copyOnWrite() throws {
        let model = try DecoderFixture.model("llama3")
        var cache = try model.newCache(maximumLength: 16)
        _ = try model.forward(ids: [5, 6, 7], cache: &cache)
        var branch = cache
        let a = try model.forward(ids: [8], cache: &cache).floats()
        let b = try model.forward(ids: [9], cache: &branch).floats()
        var replay = branch
        try replay.truncate(to: 3)
        let c = try model.forward(ids: [8], cache: &replay).floats()
        #expect(a != b)
        #expect(relativeError(c, a) == 0)
        #expect(throws: LanguageModelError.self) { try replay.truncate(to: 9) }
    }

    @Test("a cache of another shape is rejected")
    func mismatch() throws {
        let model = try DecoderFixture.model("llama")
        var cache = try KVCache(layerCount: 2, keyValueHeads: 1, headDimension: 8, capacity: 8)
        #expect(throws: LanguageModelError.self) { _ = try model.forward(ids: [1], cache: &cache) }
        #expect(throws: LanguageModelError.self) { _ = try KVCache(layerCount: 0, keyValueHeads: 1, headDimension: 8, capacity: 8) }
    }
}
