import CMGKernels
import Foundation
import MGLanguage
import MGTensor

// Whole quantized decoder from a GGUF file (`--filter gguf --model DIR`, DIR holding one `.gguf`
// and a Hugging Face `config.json`; Tools/bench/gguf_model_bench.py writes both with random
// weights and times llama.cpp on the same file): a prefill of `--positions` random token ids
// (default 512), then `--decode` single-token steps, each followed by a plain parallel read of the
// file's tensor bytes so the step and the read see the same machine state. Prints one JSON line.
// Times are wall time and process CPU time (the machine may be shared).

private func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

private func wallSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

/// The GGUF's tensor bytes (from the data section to the end), mapped read-only.
private struct MappedTensorBytes: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int

    init(path: String, from offset: Int) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile) }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let size = Int(info.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { throw CocoaError(.fileReadUnknown) }
        base = UnsafeRawPointer(map) + offset
        count = (size - offset) & ~63
    }

    /// Seconds to read every byte once on the worker threads (8 MiB chunks).
    func readSeconds() -> (seconds: Double, checksum: UInt64) {
        parallelReadSeconds([(base, count)], chunk: 8 << 20)
    }
}

/// `kvCache`: the KV cache precision; the GGUF decoder's default (F16) when nil.
func runGGUFModel(directory: URL, positions: Int, decodeSteps: Int, kvCache: KVCachePrecision? = nil) throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".gguf") }
    guard let name = files.first else { throw CocoaError(.fileNoSuchFile) }
    let ggufURL = directory.appendingPathComponent(name)
    let loadStart = wallSeconds()
    let file = try GGUFFile(contentsOf: ggufURL)
    let configuration = try DecoderConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
    let model = try DecoderModel(
        configuration: configuration, weights: GGUFDecoderWeights(file: file), options: DecoderLoadOptions(kvCachePrecision: kvCache))
    let loadSeconds = wallSeconds() - loadStart
    let bytes = try MappedTensorBytes(path: ggufURL.path, from: file.dataStart)
    var state: UInt64 = 7
    let ids = (0..<positions).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33) % configuration.vocabularySize
    }
    // Warm-up: one short prefill and step (thread pools, first touch of the mapped weights).
    var warm = try model.newCache(maximumLength: 8)
    _ = try model.forward(ids: Array(ids.prefix(4)), cache: &warm)
    _ = bytes.readSeconds()

    var cache = try model.newCache(maximumLength: positions + decodeSteps + 1)
    var wall = wallSeconds(), cpu = cpuSeconds()
    var logits = try model.forward(ids: ids, cache: &cache)
    let prefillWall = wallSeconds() - wall, prefillCPU = cpuSeconds() - cpu
    var stepWall: [Double] = [], stepCPU: [Double] = [], readWall: [Double] = []
    var checksum: UInt64 = 0
    var regions: [Int: ParallelStatistics.Bucket] = [:]
    var regionStepWalls: [Int: [Double]] = [:]  // per item count, each step's summed wall (ms)
    var tokens: [Int] = []
    for _ in 0..<decodeSteps {
        let next = try argmax(logits)
        tokens.append(next)
        _ = ParallelStatistics.take()
        wall = wallSeconds()
        cpu = cpuSeconds()
        logits = try model.forward(ids: [next], cache: &cache)
        stepWall.append(wallSeconds() - wall)
        stepCPU.append(cpuSeconds() - cpu)
        for (count, bucket) in ParallelStatistics.take() {
            regions[count, default: .init()].add(bucket)
            regionStepWalls[count, default: []].append(Double(bucket.wallNanoseconds) * 1e-6)
        }
        let read = bytes.readSeconds()
        readWall.append(read.seconds)
        checksum &+= read.checksum
    }
    func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
    if ParallelStatistics.isEnabled, decodeSteps > 0 {
        // Per-step means of the parallel regions (MG_PARALLEL_STATS=1), grouped by item count.
        let steps = Double(decodeSteps), stepMs = stepWall.reduce(0, +) / steps * 1e3
        var inRegions = 0.0
        // The median of the per-step walls is next to the mean: a step the host disturbed inflates
        // the mean, as it does the step's mean but not the step's median the JSON line reports.
        print("| items | regions/step | wall ms/step (median) | hand-off µs/region | caller wait µs/region | serial µs before each |")
        print("|---|---|---|---|---|---|")
        for (count, b) in regions.sorted(by: { $0.value.wallNanoseconds > $1.value.wallNanoseconds }) {
            let ms = Double(b.wallNanoseconds) / steps * 1e-6
            inRegions += ms
            print("| \(count) | \(Double(b.regions) / steps) | \(String(format: "%.2f (%.2f)", ms, median(regionStepWalls[count] ?? [0]))) | "
                + "\(String(format: "%.1f", Double(b.handOffNanoseconds) / Double(max(1, b.joined)) * 1e-3)) (\(b.joined) joined) | "
                + "\(String(format: "%.1f", Double(b.callerWaitNanoseconds) / Double(max(1, b.regions)) * 1e-3)) | "
                + "\(String(format: "%.1f", Double(b.gapNanoseconds) / Double(max(1, b.regions)) * 1e-3)) |")
        }
        print(String(format: "step %.2f ms mean: %.2f ms in parallel regions, %.2f ms outside", stepMs, inRegions, stepMs - inRegions))
    }
    let result: [String: Any] = [
        "file": ggufURL.path, "file_bytes": bytes.count, "threads": Parallel.threadCount,
        "tier": String(describing: QuantizedKernelTier.selected), "load_s": loadSeconds,
        "positions": positions, "prefill_wall_s": prefillWall, "prefill_cpu_s": prefillCPU,
        "decode_steps": decodeSteps, "step_wall_median_s": median(stepWall), "step_wall_min_s": stepWall.min() ?? .nan,
        "step_cpu_median_s": median(stepCPU), "read_wall_median_s": median(readWall), "read_wall_min_s": readWall.min() ?? .nan,
        "checksum": Double(checksum % 1000), "kv_cache": model.kvCachePrecision.rawValue,
        // The last step's logits, summed in order: equal bits across builds mean an unchanged step.
        "logits_sum": Double(logits.floats().reduce(Float(0), +)), "tokens": tokens,
    ]
    let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
