import Foundation
import MGTensor
import MGTestSupport
import Testing
@testable import MGLanguage

/// The half-precision KV cache (``KVCachePrecision/float16``): logits stay close to the F32
/// cache's, the half path is really taken, batched decoding and copy-on-write work with it, and the
/// load options choose it.
@Suite("Half KV cache")
struct HalfKVCacheTests {
    static let ids = [3, 17, 42, 9, 25, 60, 11, 5, 33, 48, 2, 57, 7, 19]

    /// Logits of a 4-position prefill then 10 decode steps, with the given cache precision.
    private func logits(_ model: DecoderModel, precision: KVCachePrecision) throws -> [Float] {
        var cache = try model.newCache(maximumLength: 32, precision: precision)
        #expect(cache.precision == precision)
        var result = try model.forward(ids: Array(Self.ids[..<4]), cache: &cache, logits: .allPositions).floats()
        for id in Self.ids[4...] { result += try model.forward(ids: [id], cache: &cache).floats() }
        return result
    }

    /// Bound: relative error (max |Δ| / max |logit|) ≤ 3e-3. Rounding each cached key and value to
    /// half is a relative error ≤ 2⁻¹¹ ≈ 4.9e-4 per element; through the softmax and the tiny models'
    /// layers the logits move by about that much (measured 5.2e-4 – 9.8e-4 over the five families,
    /// 2026-12-05). The lower
    /// bound (> 1e-6) fails when the F16 cache gives the F32 cache's logits, i.e. when the half
    /// path is not taken.
    @Test("F16 cache logits stay close to the F32 cache's", arguments: DecoderFixture.families)
    func closeToFloat32(family: String) throws {
        let model = try DecoderFixture.model(family)
        let reference = try logits(model, precision: .float32)
        let half = try logits(model, precision: .float16)
        let error = relativeError(half, reference)
        print("[half kv cache] \(family): relative error \(error) against the F32 cache")
        #expect(error <= 3e-3, "\(family): relative error \(error)")
        #expect(error > 1e-6, "\(family): F16 cache gave the F32 logits (\(error)): the half path was not taken")
    }

    /// A batched decode step over F16 caches equals separate F16 steps within the batched bound of
    /// `BatchedDecodingTests` widened for the rounding (5e-4: the batched products may differ in the
    /// last bit, which can move a key or value across a half rounding boundary).
    @Test("batched decoding over F16 caches", arguments: ["llama", "gemma"])
    func batched(family: String) throws {
        let model = try DecoderFixture.model(family)
        let vocab = model.configuration.vocabularySize
        let prompts = [[3, 17, 42], [9, 25, 60, 11, 5, 33, 48], [2]]
        var caches: [KVCache] = []
        for prompt in prompts {
            var cache = try model.newCache(maximumLength: 16, precision: .float16)
            _ = try model.forward(ids: prompt, cache: &cache)
            caches.append(cache)
        }
        var separate = caches
        let next = [5, 6, 7]
        let batched = try model.decodeStep(ids: next, caches: &caches).floats()
        for b in prompts.indices {
            let reference = try model.forward(ids: [next[b]], cache: &separate[b]).floats()
            let error = relativeError(Array(batched[(b * vocab)..<((b + 1) * vocab)]), reference)
            #expect(error <= 5e-4, "\(family) sequence \(b): relative error \(error)")
            #expect(caches[b].precision == .float16 && caches[b].length == separate[b].length)
        }
    }

    @Test("copy-on-write and truncate keep an F16 cache's contents")
    func copyOnWrite() throws {
        let model = try DecoderFixture.model("llama3")
        var cache = try model.newCache(maximumLength: 16, precision: .float16)
        _ = try model.forward(ids: [5, 6, 7], cache: &cache)
        var branch = cache
        let a = try model.forward(ids: [8], cache: &cache).floats()
        _ = try model.forward(ids: [9], cache: &branch)
        var replay = branch
        try replay.truncate(to: 3)
        #expect(relativeError(try model.forward(ids: [8], cache: &replay).floats(), a) == 0)
    }

    @Test("load options choose the cache precision; safetensors decoders default to F32")
    func options() throws {
        let directory = URL(fileURLWithPath: try DecoderFixture.directory("llama"))
        let model = try DecoderModel(directory: directory)
        #expect(model.kvCachePrecision == .float32)
        #expect(try model.newCache(maximumLength: 8).precision == .float32)
        let half = try DecoderModel(directory: directory, options: .init(kvCachePrecision: .float16))
        #expect(half.kvCachePrecision == .float16)
        let cache = try half.newCache(maximumLength: 8)
        #expect(cache.precision == .float16)
        let c = model.configuration
        #expect(cache.reservedBytes == 2 * c.layerCount * c.keyValueHeads * c.headDimension * 8 * 2)
        #expect(try model.newCache(maximumLength: 8).reservedBytes == 2 * cache.reservedBytes)
    }
}
