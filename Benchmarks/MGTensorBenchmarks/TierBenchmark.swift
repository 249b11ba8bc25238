import CMGKernels
import COpenBLAS
import Foundation
import MGTensor

// The kernel-tier benchmark (`--filter tiers`): the active tier's peak (BF16 dot product and F32 FMA
// on all threads), then the prefill products of a Gemma-2B layer (BF16 `linear`, fused gated MLP,
// the vocabulary projection) at 600 and 3,000 positions and the decode GEMV next to a plain read of
// the same bytes, each followed by PyTorch BF16 capped to the same instruction set
// (`ONEDNN_MAX_CPU_ISA`). Scripts/bench-tiers.sh runs it once per `MG_MAX_ISA` the machine supports.

/// Median wall milliseconds and median process CPU milliseconds per thread (CPU time / threads: on a
/// shared machine it leaves out the time other processes held the cores).
struct TierTiming {
    let wallMs: Double
    let cpuMs: Double
}

private func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

private func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

func measureTiming(repeat count: Int, threads: Int, _ body: () throws -> Void) rethrows -> TierTiming {
    try body()
    var walls: [Double] = [], cpus: [Double] = []
    for _ in 0..<count {
        let wall = DispatchTime.now().uptimeNanoseconds, cpu = processCPUSeconds()
        try body()
        cpus.append((processCPUSeconds() - cpu) * 1000 / Double(threads))
        walls.append(Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e6)
    }
    return TierTiming(wallMs: walls.sorted()[count / 2], cpuMs: cpus.sorted()[count / 2])
}

/// GFLOP/s of `probe` on `threads` threads at once: each thread's FLOP over its own CPU time, summed;
/// best of three rounds.
private func peakGFLOPS(threads: Int, _ probe: @Sendable @escaping () -> Double) -> Double {
    var best = 0.0
    for _ in 0..<3 {
        let rates = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
        defer { rates.deallocate() }
        nonisolated(unsafe) let slots = rates
        DispatchQueue.concurrentPerform(iterations: threads) { index in
            let start = threadCPUSeconds()
            let flop = probe()
            slots[index] = flop / max(1e-9, threadCPUSeconds() - start) / 1e9
        }
        best = max(best, rates.reduce(0, +))
    }
    return best
}

/// Bytes per second of a plain read of `bytes` at `data`, split over `threads` threads (wall time).
private func readRate(_ data: UnsafeRawPointer, bytes: Int, threads: Int, repeat count: Int) -> Double {
    nonisolated(unsafe) let base = data
    let timing = measureTiming(repeat: count, threads: threads) {
        DispatchQueue.concurrentPerform(iterations: threads) { index in
            let share = bytes / threads / 64 * 64
            let length = index == threads - 1 ? bytes - share * index : share
            _ = mg_read_bytes(base + share * index, length)
        }
    }
    return Double(bytes) / (timing.wallMs / 1000)
}

func oneDNNCap(_ tier: KernelTier) -> [String: String] {
    switch tier {
    case .amx: return ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"]
    case .avx512BF16: return ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "ATEN_CPU_CAPABILITY": "avx512"]
    case .avx512: return ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512"]
    case .avx2: return ["ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"]
    case .baseline: return ["ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"]
    }
}

func cpuDescription() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    var fields: [String: String] = [:]
    for line in text.split(separator: "\n") {
        let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.count == 2, fields[parts[0]] == nil { fields[parts[0]] = parts[1] }
        if line.isEmpty { break }
    }
    let wanted = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]
    let flags = Set((fields["flags"] ?? "").split(separator: " ").map(String.init))
    return "\(fields["model name"] ?? "?") (family \(fields["cpu family"] ?? "?"), model \(fields["model"] ?? "?")); "
        + "flags: \(wanted.filter { flags.contains($0) }.joined(separator: " "))"
}

func runTierBenchmarks(repositoryRoot root: URL, repeat count: Int, withTorch: Bool) throws {
    let tier = KernelTier.active, threads = Parallel.threadCount
    let torch = withTorch ? TorchReference(repositoryRoot: root, threads: threads, environment: oneDNNCap(tier)) : nil
    print("\n## Kernel tier \(tier) (detected \(KernelTier.detected)), \(threads) threads")
    print("CPU: \(cpuDescription())")
    print("OpenBLAS core: \(String(cString: openblas_get_corename()))")
    print("PyTorch: \(torch?.banner ?? "not available")")
    print("Machine shared with other jobs while measuring: GFLOP/s and % of peak use process CPU time per thread;")
    print("ms columns are wall medians, each MGTensor case followed at once by its PyTorch twin.")

    let code = Int32(tier.rawValue)
    let bf16Peak = tier >= .avx512BF16 ? peakGFLOPS(threads: threads) { mg_peak_bf16_dot(code, 10_000_000) } : nil
    let f32Peak = peakGFLOPS(threads: threads) { mg_peak_f32_fma(code, 10_000_000) }
    print("\n| peak (\(threads) threads) | GFLOP/s |\n|---|---|")
    print("| BF16 dot product (vdpbf16ps zmm) | \(bf16Peak.map { fixed($0, 1) } ?? "– (not at this tier)") |")
    print("| F32 FMA (\(tier >= .avx512 ? "zmm" : tier == .avx2 ? "ymm" : "SSE mul+add")) | \(fixed(f32Peak, 1)) |")
    // BF16 products are compared with the BF16 peak where the tier has one, else with the F32 peak.
    let peak = bf16Peak ?? f32Peak

    print("\n| product (Gemma-2B shape) | mode | ms (wall) | ms (CPU/thread) | GFLOP/s (CPU) | % of peak | "
        + "PyTorch BF16 ms (wall / CPU) | ratio to PyTorch (wall / CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    func row(_ name: String, _ mode: String, flop: Double, passes: Double, _ timing: TierTiming, torchMs: TierTiming?) {
        let rate = flop / (timing.cpuMs / 1000) / 1e9
        let percent = 100 * rate * passes / peak
        let torchText = torchMs.map { "\(fixed($0.wallMs, 1)) / \(fixed($0.cpuMs, 1))" } ?? "–"
        let ratioText = torchMs.map { "\(fixed(timing.wallMs / $0.wallMs)) / \(fixed(timing.cpuMs / $0.cpuMs))" } ?? "–"
        print("| \(name) | \(mode) | \(fixed(timing.wallMs, 1)) | \(fixed(timing.cpuMs, 1)) | \(fixed(rate, 1)) | "
            + "\(fixed(percent, 1))% | \(torchText) | \(ratioText) |")
    }
    func torchTiming(_ op: String, _ args: [String: Any], repeat runs: Int) -> TierTiming? {
        guard let reply = torch?.request(op: op, args: args, repeat: runs), let wall = reply["ms"] as? Double,
            let cpu = reply["cpu_ms"] as? Double
        else { return nil }
        return TierTiming(wallMs: wall, cpuMs: cpu)
    }
    let hidden = 2048, inner = 16384, vocabulary = 256_000, headDimension = 256
    // MG_TIER_CASES=linear,qkv,mlp,head,decode runs only those groups (all by default).
    let cases = ProcessInfo.processInfo.environment["MG_TIER_CASES"].map { Set($0.split(separator: ",").map(String.init)) }
    func wanted(_ name: String) -> Bool { cases?.contains(name) ?? true }
    // MG_TIER_WEIGHTS=mapped reads the weights from a safetensors file mapping (page cache, 4 KB
    // pages) as a loaded model does; by default they are heap tensors (huge pages when large).
    let mappedWeights = ProcessInfo.processInfo.environment["MG_TIER_WEIGHTS"] == "mapped"
    func weight(_ shape: [Int], seed: UInt64) throws -> Tensor {
        let tensor = try randomBF16Tensor(shape, radius: 0.05, seed: seed)
        guard mappedWeights else { return tensor }
        return try mapped(tensor, name: "seed\(seed)")
    }
    let square = try weight([hidden, hidden], seed: 11)
    let key = try weight([headDimension, hidden], seed: 16)
    let value = try weight([headDimension, hidden], seed: 17)
    let gate = try weight([inner, hidden], seed: 12)
    let up = try weight([inner, hidden], seed: 13)
    let down = try weight([hidden, inner], seed: 14)
    print("Weights: \(mappedWeights ? "mapped from a safetensors file" : "heap tensors")")
    let packedPasses: Double = tier >= .avx512BF16 ? 2 : 1
    for positions in [600, 3000] {
        let x = try randomTensor([positions, hidden])
        let runs = positions > 1000 ? max(1, count / 2) : count
        let linearFlop = 2.0 * Double(positions * hidden * hidden)
        if wanted("linear") {
            let torchLinear = torchTiming("linear_bf16", ["M": positions, "K": hidden, "N": hidden], repeat: runs)
            for precision in [LinearPrecision.float32, .bfloat16Activations] {
                let timing = try measureTiming(repeat: runs, threads: threads) { _ = try linear(x, weight: square, precision: precision) }
                row("linear \(positions)×\(hidden)×\(hidden)", precision == .float32 ? "exact" : "bf16-act", flop: linearFlop,
                    passes: precision == .float32 ? packedPasses : 1, timing, torchMs: torchLinear)
            }
        }
        if wanted("qkv") {
            // Gemma-2B attention input: q (2048 wide) and the single k and v heads (256 wide) of one
            // layer from the same rows; ours packs the rows once for all three, PyTorch runs three linears.
            let qkvWidths = [hidden, headDimension, headDimension]
            let qkvFlop = 2.0 * Double(positions * hidden * qkvWidths.reduce(0, +))
            let torchQKV = torchTiming("linears_bf16", ["M": positions, "K": hidden, "N": qkvWidths], repeat: runs)
            for precision in [LinearPrecision.float32, .bfloat16Activations] {
                let timing = try measureTiming(repeat: runs, threads: threads) {
                    _ = try linear(x, weights: [square, key, value], precision: precision)
                }
                row("q/k/v \(positions)×\(hidden)×(\(qkvWidths.map(String.init).joined(separator: "+")))",
                    precision == .float32 ? "exact" : "bf16-act", flop: qkvFlop,
                    passes: precision == .float32 ? packedPasses : 1, timing, torchMs: torchQKV)
            }
        }
        guard wanted("mlp") else { continue }
        let mlpFlop = 6.0 * Double(positions * hidden * inner)
        let torchMLP = torchTiming("gated_mlp_bf16", ["M": positions, "hidden": hidden, "inner": inner], repeat: runs)
        for precision in [LinearPrecision.float32, .bfloat16Activations] {
            let timing = try measureTiming(repeat: runs, threads: threads) {
                _ = try gatedMLP(x, gate: gate, up: up, down: down, activation: .gelu(.tanh), precision: precision)
            }
            row("gated MLP \(positions)×\(hidden)→\(inner)", precision == .float32 ? "exact" : "bf16-act", flop: mlpFlop,
                passes: precision == .float32 ? packedPasses : 1, timing, torchMs: torchMLP)
        }
    }
    if wanted("head") {
        let positions = 600
        let x = try randomTensor([positions, hidden])
        let head = try weight([vocabulary, hidden], seed: 15)
        let flop = 2.0 * Double(positions * hidden * vocabulary)
        let torchHead = torchTiming("linear_bf16", ["M": positions, "K": hidden, "N": vocabulary], repeat: 1)
        for precision in [LinearPrecision.float32, .bfloat16Activations] {
            let timing = try measureTiming(repeat: 1, threads: threads) { _ = try linear(x, weight: head, precision: precision) }
            row("linear \(positions)×\(hidden)×\(vocabulary)", precision == .float32 ? "exact" : "bf16-act", flop: flop,
                passes: precision == .float32 ? packedPasses : 1, timing, torchMs: torchHead)
        }
    }

    guard wanted("decode") else {
        torch?.close()
        return
    }
    // Decode: one row through the MLP's up projection (64 MB of BF16) next to a plain read of it.
    let row1 = try randomTensor([1, hidden])
    let bytes = inner * hidden * 2
    var readBytesPerSecond = 0.0, gemvBytesPerSecond = 0.0
    let decodeRuns = max(9, count * 2)
    // Alternate read and GEMV rounds so both see the same memory traffic from other jobs.
    var reads: [Double] = [], gemvs: [Double] = []
    for _ in 0..<3 {
        up.withUnsafeBytes { raw in reads.append(readRate(raw.baseAddress!, bytes: bytes, threads: threads, repeat: decodeRuns)) }
        let timing = try measureTiming(repeat: decodeRuns, threads: threads) { _ = try linear(row1, weight: up) }
        gemvs.append(Double(bytes) / (timing.wallMs / 1000))
    }
    readBytesPerSecond = reads.max()!
    gemvBytesPerSecond = gemvs.max()!
    let torchGEMV = torch?.time(op: "linear_bf16", args: ["M": 1, "K": hidden, "N": inner], repeat: decodeRuns)
    print("\n| decode GEMV 1×\(hidden)×\(inner) BF16 (64 MB) | GB/s | % of read rate | PyTorch BF16 GB/s | ratio to PyTorch time |")
    print("|---|---|---|---|---|")
    let torchRate = torchGEMV.map { Double(bytes) / ($0 / 1000) }
    print("| plain read (same bytes, same run) | \(fixed(readBytesPerSecond / 1e9, 1)) | 100% | | |")
    print("| MGTensor linear (1 row) | \(fixed(gemvBytesPerSecond / 1e9, 1)) | \(fixed(100 * gemvBytesPerSecond / readBytesPerSecond, 1))% | "
        + "\(torchRate.map { fixed($0 / 1e9, 1) } ?? "–") | \(torchRate.map { fixed($0 / gemvBytesPerSecond) } ?? "–") |")
    torch?.close()
}

/// `tensor` written to a temporary safetensors file and read back as a mapping of it (the file is
/// unlinked at once; the mapping keeps its pages).
private func mapped(_ tensor: Tensor, name: String) throws -> Tensor {
    let path = NSTemporaryDirectory() + "mg-tier-\(getpid())-\(name).safetensors"
    try SafetensorsWriter.write([name: tensor], to: path)
    defer { unlink(path) }
    return try SafetensorsFile(contentsOf: URL(fileURLWithPath: path)).tensor(named: name)
}
