import Foundation
import MGLanguage
import MGTensor
import MGVision
import Synchronization

// Whole towers and the decoder at Mini-Gemini's real sizes with random weights, each followed by its
// PyTorch twin from Tools/bench/torch_models.py in the same run.

struct TowerResult {
    let name: String
    let swiftMs: Double
    let torchMs: Double?
    /// Peak RSS while building and running the Swift tower (weights included), in MiB.
    let peakMiB: Double
}

/// CLIP ViT-L/14-336 (F32, `hidden_states[-2]` as Mini-Gemini selects it) on one 336 × 336 image.
func runCLIPTower(repeat count: Int, torch: TorchReference?) throws -> TowerResult {
    resetPeakResident()
    let configuration = CLIPVisionConfiguration.vitLarge14x336
    let shapes = clipVisionShapes(
        hidden: configuration.hiddenSize, intermediate: configuration.intermediateSize,
        layers: configuration.hiddenLayerCount, patch: configuration.patchSize, tokens: configuration.patchCount + 1)
    let tower = try CLIPVisionTower(configuration: configuration, weights: MemoryWeights.random(shapes))
    let pixels = try randomTensor([1, 3, 336, 336])
    let ms = try medianMilliseconds(repeat: count) { _ = try tower.encode(pixels) }
    let peak = peakResidentMiB()
    let torchMs = torch?.time(op: "clip_vit_l336", args: [:], repeat: count)
    return TowerResult(name: "CLIP ViT-L/14-336, 1 image", swiftMs: ms, torchMs: torchMs, peakMiB: peak)
}

/// ConvNeXt-L (F32) on one `size` × `size` image, with Mini-Gemini's four-stage fusion.
func runConvNeXtTower(size: Int, repeat count: Int, torch: TorchReference?) throws -> TowerResult {
    resetPeakResident()
    let configuration = ConvNeXtConfiguration.large
    let weights = try MemoryWeights.random(convNeXtShapes(depths: configuration.depths, widths: configuration.widths))
    let tower = try ConvNeXtTower(configuration: configuration, weights: weights)
    let pixels = try randomTensor([1, 3, size, size])
    let ms = try medianMilliseconds(repeat: count) { _ = try tower.encode(pixels) }
    let peak = peakResidentMiB()
    let torchMs = torch?.time(op: "convnext_l", args: ["size": size], repeat: count)
    return TowerResult(name: "ConvNeXt-L @\(size), fused map", swiftMs: ms, torchMs: torchMs, peakMiB: peak)
}

struct DecoderResult {
    let positions: Int
    let prefillMs: Double
    /// Prefill with `matrixPrecision: .bfloat16Activations` (PyTorch-BF16-like rounding).
    let fastPrefillMs: Double
    /// max |fast − exact| / max |exact| over the last position's logits.
    let fastLogitError: Double
    let decodeMsPerToken: Double
    let torchPrefillMs: Double?
    let torchDecodeMsPerToken: Double?
    /// Bytes of weights one decode step streams (every tensor, the tied embedding as the head).
    let weightBytes: Int
    /// The fastest decode step and the fastest plain read of all weight bytes, interleaved.
    let fastestStepMs: Double
    let fastestReadMs: Double
    let peakMiB: Double

    /// The plain read rate in GB/s.
    var readGBps: Double { Double(weightBytes) / (fastestReadMs * 1e6) }
    /// Decode speed relative to the memory-bound limit: the step's effective weight rate over the
    /// plain read rate.
    var bandwidthFraction: Double { fastestReadMs / fastestStepMs }
}

/// A Gemma-2B-shaped decoder with random BF16 weights (see ``runGemmaDecoder``), in the given
/// matrix precision, sharing `weights`.
func gemmaModel(weights: MemoryWeights, precision: LinearPrecision) throws -> DecoderModel {
    let json = """
        {"model_type": "gemma", "hidden_size": 2048, "intermediate_size": 16384, "num_hidden_layers": 18,
         "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 256000,
         "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 8192,
         "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": true}
        """
    let configuration = try DecoderConfiguration(jsonData: Data(json.utf8))
    return try DecoderModel(
        configuration: configuration, weights: weights, options: DecoderLoadOptions(matrixPrecision: precision))
}

/// Random BF16 weights of the Gemma-2B shape (5 GB), and `positions` random token ids.
func gemmaWeightsAndIDs(positions: Int) throws -> (MemoryWeights, [Int]) {
    let shapes = gemmaShapes(
        vocabulary: 256_000, hidden: 2048, intermediate: 16384, layers: 18, heads: 8, keyValueHeads: 1, headSize: 256)
    let weights = try MemoryWeights.random(shapes, dtype: .bf16, unitOffsetNorms: true)
    var state: UInt64 = 3
    let ids = (0..<positions).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33) % 256_000
    }
    return (weights, ids)
}

/// Prefill only, `rounds` times in each precision (fast first), printing every time: a short
/// loop to run under a profiler (`--filter prefill`; no PyTorch, no decode).
func profileGemmaPrefill(positions: Int, rounds: Int) throws {
    let (weights, ids) = try gemmaWeightsAndIDs(positions: positions)
    for precision in [LinearPrecision.bfloat16Activations, .float32] {
        let model = try gemmaModel(weights: weights, precision: precision)
        var warmCache = try model.newCache(maximumLength: 16)
        _ = try model.forward(ids: Array(ids.prefix(16)), cache: &warmCache)
        for _ in 0..<rounds {
            var cache = try model.newCache(maximumLength: positions)
            let start = DispatchTime.now().uptimeNanoseconds, cpuStart = processCPUMilliseconds()
            _ = try model.forward(ids: ids, cache: &cache)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let cpuMs = (processCPUMilliseconds() - cpuStart) / Double(Parallel.threadCount)
            print("prefill \(positions) \(precision): \(String(format: "%.0f", ms)) ms = "
                  + "\(String(format: "%.1f", Double(positions) * 1000 / ms)) tokens/s; "
                  + "CPU \(String(format: "%.0f", cpuMs)) ms per thread")
        }
    }
}

/// The Gemma-2B shape (18 layers, 2048 wide, MQA with 256-wide heads, 256000-token tied head)
/// with random BF16 weights: one prefill of `positions` tokens (last-position logits), then
/// `decodeSteps` single-token steps on the cache.
func runGemmaDecoder(positions: Int, decodeSteps: Int, torch: TorchReference?) throws -> DecoderResult {
    resetPeakResident()
    let (weights, ids) = try gemmaWeightsAndIDs(positions: positions)
    let model = try gemmaModel(weights: weights, precision: .float32)
    let fastModel = try gemmaModel(weights: weights, precision: .bfloat16Activations)
    // A short warm-up, so one-time set-up (thread pools, AMX permission) is not timed.
    var start = DispatchTime.now().uptimeNanoseconds
    var warmCache = try model.newCache(maximumLength: 16)
    _ = try model.forward(ids: Array(ids.prefix(16)), cache: &warmCache)
    // Exact and fast prefills alternate (fast, exact, fast; the timed exact prefill below fills the
    // cache for decoding): the fastest of each, so a burst of load elsewhere does not pick a winner.
    var fastPrefillMs = Double.infinity, exactWarmMs = Double.infinity
    var fastLogits: [Float] = []
    for round in 0..<2 {
        var fastCache = try fastModel.newCache(maximumLength: positions)
        start = DispatchTime.now().uptimeNanoseconds
        fastLogits = try fastModel.forward(ids: ids, cache: &fastCache).floats()
        fastPrefillMs = min(fastPrefillMs, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        if round == 0 {
            var exactCache = try model.newCache(maximumLength: positions)
            start = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(ids: ids, cache: &exactCache)
            exactWarmMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        }
    }

    var cache = try model.newCache(maximumLength: positions + decodeSteps)
    start = DispatchTime.now().uptimeNanoseconds
    var logits = try model.forward(ids: ids, cache: &cache)
    let prefillMs = min(exactWarmMs, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    let exact = logits.floats()
    let fastLogitError = zip(exact, fastLogits).map { abs(Double($0) - Double($1)) }.max()!
        / exact.map { abs(Double($0)) }.max()!
    // Each step is followed by a plain read of the weights, so both see the same machine state; the
    // bandwidth fraction compares the fastest of each.
    var stepMs: [Double] = [], readMs: [Double] = []
    for _ in 0..<decodeSteps {
        let next = try argmax(logits)
        start = DispatchTime.now().uptimeNanoseconds
        logits = try model.forward(ids: [next], cache: &cache)
        stepMs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        readMs.append(readSeconds(weights) * 1000)
    }
    let decodeMs = stepMs.reduce(0, +) / Double(max(1, decodeSteps))
    let peak = peakResidentMiB()

    let reply = torch?.request(op: "gemma_2b", args: ["positions": positions, "decode": decodeSteps], repeat: 1)
    return DecoderResult(
        positions: positions, prefillMs: prefillMs, fastPrefillMs: fastPrefillMs, fastLogitError: fastLogitError,
        decodeMsPerToken: decodeMs,
        torchPrefillMs: reply?["prefill_ms"] as? Double, torchDecodeMsPerToken: reply?["decode_ms"] as? Double,
        weightBytes: weights.byteCount, fastestStepMs: stepMs.min() ?? .nan, fastestReadMs: readMs.min() ?? .nan,
        peakMiB: peak)
}

/// Seconds to read every weight byte once on all cores (summing them as 8-byte words): the time
/// a memory-bound decode step cannot beat. Each thread reads four distant parts of its range in
/// lockstep, as the GEMV kernel reads four weight rows; one sequential stream per core leaves
/// bandwidth unused on this kind of machine.
func readSeconds(_ weights: MemoryWeights) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    let checksum = Atomic<UInt64>(0)
    for tensor in weights.tensors.values {
        tensor.withUnsafeBytes { raw in
            let words = UncheckedPointer(UnsafeMutableRawPointer(mutating: raw.baseAddress!).assumingMemoryBound(to: UInt64.self))
            // Units of 64 bytes; a tail under 64 bytes per tensor is skipped.
            Parallel.forEachChunk(count: raw.count / 64, minimumChunk: 1 << 14) { range in
                let quarter = range.count / 4
                var sum: UInt64 = 0
                for line in 0..<quarter {
                    for stream in 0..<4 {
                        let base = words.pointer + (range.lowerBound + stream * quarter + line) * 8
                        for word in 0..<8 { sum &+= base[word] }
                    }
                }
                for line in (range.lowerBound + 4 * quarter)..<range.upperBound {
                    for word in 0..<8 { sum &+= words.pointer[line * 8 + word] }
                }
                checksum.wrappingAdd(sum, ordering: .relaxed)
            }
        }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    if checksum.load(ordering: .relaxed) == 42 { print("", terminator: "") }  // keeps the reads
    return seconds
}

/// CPU time of the whole process so far (all threads, user and system) in milliseconds.
private func processCPUMilliseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) * 1000 + Double(now.tv_nsec) * 1e-6
}
