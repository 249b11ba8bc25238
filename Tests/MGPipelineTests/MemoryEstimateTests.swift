import Foundation
@testable import MGPipeline
import MGTensor
import Testing

/// The pre-load memory estimate: weight bytes from headers, activations from the configuration,
/// and the refusal when they do not fit.
@Suite("Memory estimate")
struct MemoryEstimateTests {
    private let checkpoint: URL
    private let towers: [URL]
    private let configuration: MiniGeminiConfiguration

    init() throws {
        checkpoint = try EndToEndFixtures.checkpoint("MGM-7B-tiny")
        let zoo = try EndToEndFixtures.root.appendingPathComponent("Checkpoints/model_zoo/OpenAI")
        towers = [
            zoo.appendingPathComponent("clip-vit-large-patch14-336"),
            zoo.appendingPathComponent("openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup"),
        ]
        configuration = try MiniGeminiConfiguration(contentsOf: checkpoint.appendingPathComponent("config.json"))
    }

    /// Data-section bytes of a safetensors file, read from its raw length prefix (an independent
    /// count: the fixture writer packs tensors without padding).
    private func dataBytes(_ url: URL) throws -> Int {
        let data = try Data(contentsOf: url)
        let headerLength = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        return data.count - 8 - headerLength
    }

    @Test("safetensors weights count as mapped bytes, exactly the shards' data sections")
    func safetensorsWeights() throws {
        let estimate = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration)
        let shards = try FileManager.default.contentsOfDirectory(atPath: checkpoint.path).filter { $0.hasSuffix(".safetensors") }
        #expect(shards.count == 2)
        let expected = try shards.reduce(0) { $0 + (try dataBytes(checkpoint.appendingPathComponent($1))) }
        #expect(estimate.mappedWeightBytes == expected)
        #expect(estimate.copiedWeightBytes == 0)
    }

    @Test("a quantized folder counts its GGUF as mapped: llama's q/k stay as stored (no biases, no copy)")
    func ggufWeights() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-estimate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        _ = try QuantizedFolder.write(from: checkpoint, to: output, quantization: .q8_0)
        let estimate = try MemoryEstimate(checkpoint: output, configuration: configuration)
        let file = try GGUFFile(contentsOf: output.appendingPathComponent(QuantizedFolder.ggufName(.q8_0)))
        let qk = file.tensorInfos.filter { $0.key.hasSuffix("attn_q.weight") || $0.key.hasSuffix("attn_k.weight") }
        #expect(qk.count == 2 * configuration.decoder.layerCount)
        let ggufBytes = file.tensorInfos.values.reduce(0) { $0 + $1.byteCount }
        #expect(estimate.copiedWeightBytes == 0)
        let others = try dataBytes(output.appendingPathComponent("model.safetensors"))
        #expect(estimate.mappedWeightBytes == ggufBytes + others)
        // The GGUF decoder's default F16 KV cache: half the F32 cache's bytes (2 layers, 2 KV heads
        // of 16, 512 positions), unless the F32 cache is asked for.
        let f32Cache = try MemoryEstimate(checkpoint: output, configuration: configuration, kvCachePrecision: .float32)
        let safetensors = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration)
        #expect(f32Cache.activationBytes == safetensors.activationBytes)
        #expect(f32Cache.activationBytes - estimate.activationBytes == 2 * 2 * (2 * 16) * 512 * 2)
    }

    @Test("zip .bin towers count as mapped; their sum matches the tensors' element bytes")
    func towerWeights() throws {
        let without = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration)
        let with = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, towers: towers)
        var towerBytes = 0
        for tower in towers {
            let weights = try TorchCheckpoint(contentsOf: tower)
            #expect(weights.format == .zip)
            for entry in weights.entries.values { towerBytes += (Shape.elementCount(entry.shape) ?? 0) * entry.dtype.byteSize }
        }
        #expect(towerBytes > 0)
        #expect(with.mappedWeightBytes - without.mappedWeightBytes == towerBytes)
        #expect(with.activationBytes == without.activationBytes)
    }

    @Test("activations: the KV cache and prefill of the tiny decoder, computed by hand")
    func languageActivations() {
        // MGM-7B-tiny: 2 layers, 4 heads, 2 KV heads of 16, hidden 64, intermediate 128, vocabulary 768.
        let positions = 512
        let cache = 2 * 2 * (2 * 16) * positions * 4
        let rows = positions * (2 * 64 + 2 * 64 + 2 * 32 + 3 * 128) * 4
        // Blocked attention: at most ~1 MB of scores per core, never more than all 4 heads' pairs.
        let scores = min(4 * positions * positions * 4, (1 << 20) * ProcessInfo.processInfo.activeProcessorCount)
        let logits = 768 * 2 * 4
        #expect(MemoryEstimate.languageActivationBytes(configuration.decoder, positions: positions) == cache + rows + scores + logits)
        #expect(configuration.decoder.maximumPositions == positions)
    }

    @Test("activations grow with concurrent requests and context length")
    func scaling() throws {
        let one = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, contextLength: 256)
        let three = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, contextLength: 256, concurrentRequests: 3)
        let full = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration)
        #expect(three.activationBytes == 3 * one.activationBytes)
        #expect(full.activationBytes > one.activationBytes)
        #expect(three.mappedWeightBytes == one.mappedWeightBytes)
    }

    @Test("a batch of concurrent requests is refused where one request fits; paging does not excuse activations")
    func concurrentRefusal() throws {
        let one = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, towers: towers)
        let eight = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, towers: towers, concurrentRequests: 8)
        #expect(eight.activationBytes == 8 * one.activationBytes && eight.mappedWeightBytes == one.mappedWeightBytes)
        // Room for everything of one request plus half of the other seven's working memory.
        let available = one.totalBytes + 7 * one.activationBytes / 2
        try one.check(availableBytes: available)
        #expect(throws: MiniGeminiError.self) { try eight.check(availableBytes: available) }
        // --allow-paging accepts mapped weights beyond memory, not caches: only anonymous bytes must fit.
        try eight.check(availableBytes: eight.anonymousBytes, allowPaging: true)
        #expect(throws: MiniGeminiError.self) { try eight.check(availableBytes: eight.anonymousBytes - 1, allowPaging: true) }
    }

    @Test("loading with more concurrent sequences than memory holds is refused before any weight is read")
    func loaderCountsConcurrentSequences() throws {
        guard let available = MemoryEstimate.availableMemoryBytes() else {
            print("skipped: no /proc/meminfo, so the loader does not check memory")
            return
        }
        let perRequest = try MemoryEstimate(checkpoint: checkpoint, configuration: configuration, towers: towers).activationBytes
        var options = MiniGeminiLoadOptions(visionTower: towers[0], visionTowerAux: towers[1])
        // Four times what is free, so memory freed by other processes meanwhile cannot let it pass.
        options.concurrentSequences = 4 * (available / perRequest + 1)
        options.allowsPaging = true
        do {
            _ = try MiniGemini(directory: checkpoint, options: options)
            Issue.record("\(options.concurrentSequences) concurrent sequences of \(perRequest) bytes were accepted with \(available) bytes available")
        } catch {
            guard case .limitExceeded(let what, let value, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(what.hasPrefix("estimated memory without mapped weights"))
            #expect(value >= options.concurrentSequences * perRequest)
        }
    }

    @Test("check refuses what cannot fit, with the sizes in the error")
    func refusal() throws {
        let estimate = MemoryEstimate(mappedWeightBytes: 8_000_000_000, copiedWeightBytes: 1_000_000_000, activationBytes: 2_000_000_000)
        #expect(estimate.anonymousBytes == 3_000_000_000 && estimate.totalBytes == 11_000_000_000)
        try estimate.check(availableBytes: 11_000_000_000)
        try estimate.check(availableBytes: 3_000_000_000, allowPaging: true)
        #expect(throws: MiniGeminiError.self) { try estimate.check(availableBytes: 10_999_999_999) }
        do {
            try estimate.check(availableBytes: 2_999_999_999, allowPaging: true)
            Issue.record("an estimate above the available memory was accepted")
        } catch {
            guard case .limitExceeded(let what, let value, let limit) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(value == 3_000_000_000 && limit == 2_999_999_999)
            #expect(what.contains("11.0 GB") && what.contains("8.0 GB mapped") && what.contains("3.0 GB available"))
        }
        try estimate.check(availableBytes: nil)
    }

    @Test("MemAvailable is read from /proc/meminfo")
    func meminfo() {
        let sample = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n"
        #expect(MemoryEstimate.parseMemAvailable(sample) == 20_000_000 * 1024)
        #expect(MemoryEstimate.parseMemAvailable("MemTotal: 5 kB\n") == nil)
        #if os(Linux)
        let available = MemoryEstimate.availableMemoryBytes()
        #expect(available.map { $0 > 0 } == true)
        #endif
    }

    @Test("a malformed weight file is a checkpoint error, not an estimate")
    func malformedWeights() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-estimate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(
            at: try MalformedInputs.folder.appendingPathComponent("st_overflowing_shape.safetensors"),
            to: folder.appendingPathComponent("model.safetensors"))
        #expect {
            try MemoryEstimate(checkpoint: folder, configuration: configuration)
        } throws: { error in
            if case MiniGeminiError.checkpoint(.invalidShape) = error { true } else { false }
        }
    }
}
