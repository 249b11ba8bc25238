import Foundation
import MGTensor

// MGTensor benchmarks: GEMM through MGTensor vs a direct cblas_sgemm, BF16-weight `linear` (AMX vs
// the conversion path vs PyTorch BF16), every non-GEMM op at model size next to PyTorch (fp32, same
// thread count), and the whole models (CLIP ViT-L/14-336, ConvNeXt-L, a Gemma-2B-shaped decoder)
// next to PyTorch, each pair measured in the same run.
// Usage: MGTensorBenchmarks [--repeat N] [--no-torch] [--filter gemm|bf16|models|clip|convnext|gemma|prefill|decode|kvcache|tokenizer|tiers|vision-tiers [--only clip|convnext]|quant|gguf --model DIR [--kv-cache f32|f16]|OP NAME]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let repeatCount = option("--repeat").flatMap(Int.init) ?? 7
let filter = option("--filter")
if filter == "prefill" {
    // Not part of the full run: Gemma-shape prefills only, for profiling.
    try profileGemmaPrefill(positions: 600, rounds: min(repeatCount, 3))
    exit(0)
}
if filter == "decode" {
    try runDecodeBenchmark(steps: option("--steps").flatMap(Int.init) ?? 12)
    exit(0)
}
if filter == "kvcache" {
    // Not part of the full run: decode attention over F32 and F16 KV caches (KVCacheBenchmark.swift).
    try runKVCacheBenchmark(steps: option("--steps").flatMap(Int.init) ?? 15)
    exit(0)
}
if filter == "tokenizer" {
    // Not part of the full run: tokenizer.json load times (JSON parse, vocabulary, merges).
    try runTokenizerLoads(repeat: max(repeatCount, 11))
    exit(0)
}
if filter == "quant" {
    // Integer products on GGML quantized blocks (QuantizedBenchmark.swift); no PyTorch counterpart.
    try runQuantizedBenchmarks(repeat: repeatCount)
    exit(0)
}
if filter == "gguf", let model = option("--model") {
    // Not part of the full run: a whole GGUF decoder (GGUFModelBenchmark.swift), driven by
    // Tools/bench/gguf_model_bench.py next to llama.cpp on the same file.
    try runGGUFModel(
        directory: URL(fileURLWithPath: model), positions: option("--positions").flatMap(Int.init) ?? 512,
        decodeSteps: option("--decode").flatMap(Int.init) ?? 16, kvCache: option("--kv-cache").flatMap(KVCachePrecision.init(rawValue:)))
    exit(0)
}
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
if filter == "vision-tiers" {
    // Not part of the full run: CLIP and ConvNeXt exact and bf16 at the active tier, PyTorch capped alike.
    try runVisionTierBenchmarks(repositoryRoot: root, repeat: repeatCount, withTorch: !arguments.contains("--no-torch"))
    exit(0)
}
if filter == "tiers" {
    // Not part of the full run: the active kernel tier (MG_MAX_ISA) against PyTorch capped alike.
    try runTierBenchmarks(repositoryRoot: root, repeat: repeatCount, withTorch: !arguments.contains("--no-torch"))
    exit(0)
}
let torch = arguments.contains("--no-torch") ? nil : TorchReference(repositoryRoot: root, threads: Parallel.threadCount)

print("MGTensor benchmarks — \(Parallel.threadCount) threads, median of \(repeatCount) runs")
if let torch { print("PyTorch reference: \(torch.banner)") } else { print("PyTorch reference: not available (pip install -r Tools/requirements.txt)") }

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
func fixed(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

if filter == nil || "gemm".contains(filter!.lowercased()) {
    print("\n| GEMM M×K×N | MGTensor GFLOP/s | cblas_sgemm GFLOP/s | MGTensor/cblas | PyTorch GFLOP/s |")
    print("|---|---|---|---|---|")
    for (m, k, n) in [(577, 1024, 4096), (640, 2048, 16384)] {
        let result = try runGEMM(m: m, k: k, n: n, repeat: repeatCount, torch: torch)
        print("| \(m)×\(k)×\(n) | \(fixed(result.tensorGFLOPS, 1)) | \(fixed(result.blasGFLOPS, 1)) | "
              + "\(fixed(100 * result.tensorGFLOPS / result.blasGFLOPS, 1))% | \(result.torchGFLOPS.map { fixed($0, 1) } ?? "–") |")
    }
}

if filter == nil || "bf16 gemm".contains(filter!.lowercased()) {
    print("\nPacked BF16 kernels: \(MatrixKernels.packedBF16Tier.map { "\($0)" } ?? "none at this tier")")
    print("\n| BF16 linear M×K×N | packed exact ms | packed bf16-act ms | convert+sgemm ms | PyTorch BF16 ms | exact rel. error vs F32 | convert/exact | bf16-act/PyTorch |")
    print("|---|---|---|---|---|---|---|---|")
    for (m, k, n, runs) in [(600, 2048, 2048, repeatCount), (600, 2048, 16384, 3), (600, 16384, 2048, 3), (600, 2048, 256_000, 1)] {
        let r = try runBF16GEMM(m: m, k: k, n: n, repeat: runs, torch: torch)
        let speedup = r.amxMs.map { r.convertMs / $0 }
        let versusTorch = r.amxFastMs.flatMap { amx in r.torchMs.map { amx / $0 } }
        print("| \(m)×\(k)×\(n) | \(r.amxMs.map { fixed($0, 1) } ?? "–") | \(r.amxFastMs.map { fixed($0, 1) } ?? "–") | \(fixed(r.convertMs, 1)) | "
              + "\(r.torchMs.map { fixed($0, 1) } ?? "–") | \(r.relativeError.map { String(format: "%.1e", $0) } ?? "–") | "
              + "\(speedup.map { fixed($0) } ?? "–") | \(versusTorch.map { fixed($0) } ?? "–") |")
    }
}

let operations = operationCases().filter { filter == nil || $0.name.lowercased().contains(filter!.lowercased()) }
if !operations.isEmpty {
    print("\n| operation | MGTensor ms | PyTorch ms | Swift/PyTorch |")
    print("|---|---|---|---|")
}
var worst = 0.0
for benchmark in operations {
    let run = try benchmark.prepare()
    let swiftMs = try medianMilliseconds(repeat: repeatCount, run)
    let torchMs = torch?.time(op: benchmark.torchOp, args: benchmark.torchArgs, repeat: repeatCount)
    let ratio = torchMs.map { swiftMs / $0 }
    if let ratio { worst = max(worst, ratio) }
    print("| \(pad(benchmark.name, 34)) | \(fixed(swiftMs)) | \(torchMs.map { fixed($0) } ?? "–") | \(ratio.map { fixed($0) } ?? "–") |")
}
if torch != nil, !operations.isEmpty { print("\nworst Swift/PyTorch ratio: \(fixed(worst))") }
print("peak RSS: \(fixed(peakResidentMiB(), 0)) MiB")
torch?.close()

func wants(_ section: String) -> Bool {
    guard let filter = filter?.lowercased() else { return true }
    return filter == "models" || filter == section
}
if wants("clip") || wants("convnext") || wants("gemma") {
    let modelTorch = arguments.contains("--no-torch")
        ? nil : TorchReference(repositoryRoot: root, script: "Tools/bench/torch_models.py", threads: Parallel.threadCount)
    let modelRepeat = min(repeatCount, 3)
    print("\n| model (random weights) | MGTensor ms | PyTorch ms | Swift/PyTorch | Swift peak RSS MiB |")
    print("|---|---|---|---|---|")
    var towers: [() throws -> TowerResult] = []
    if wants("clip") { towers.append { try runCLIPTower(repeat: modelRepeat, torch: modelTorch) } }
    if wants("convnext") {
        towers.append { try runConvNeXtTower(size: 768, repeat: modelRepeat, torch: modelTorch) }
        towers.append { try runConvNeXtTower(size: 1536, repeat: 1, torch: modelTorch) }
    }
    for run in towers {
        let r = try run()
        print("| \(r.name) | \(fixed(r.swiftMs, 0)) | \(r.torchMs.map { fixed($0, 0) } ?? "–") | "
              + "\(r.torchMs.map { fixed(r.swiftMs / $0) } ?? "–") | \(fixed(r.peakMiB, 0)) |")
    }
    if wants("gemma") {
        let r = try runGemmaDecoder(positions: 600, decodeSteps: 8, torch: modelTorch)
        let tokensPerSecond = { (ms: Double) in 1000 / ms }
        print("\n| Gemma-2B shape, BF16 weights | MGTensor | PyTorch BF16 | Swift/PyTorch time |")
        print("|---|---|---|---|")
        print("| prefill \(r.positions) positions, tokens/s | \(fixed(Double(r.positions) * tokensPerSecond(r.prefillMs), 1)) | "
              + "\(r.torchPrefillMs.map { fixed(Double(r.positions) * tokensPerSecond($0), 1) } ?? "–") | "
              + "\(r.torchPrefillMs.map { fixed(r.prefillMs / $0) } ?? "–") |")
        print("| prefill \(r.positions), bf16 activations (fast mode), tokens/s | "
              + "\(fixed(Double(r.positions) * tokensPerSecond(r.fastPrefillMs), 1)) | "
              + "\(r.torchPrefillMs.map { fixed(Double(r.positions) * tokensPerSecond($0), 1) } ?? "–") | "
              + "\(r.torchPrefillMs.map { fixed(r.fastPrefillMs / $0) } ?? "–") |")
        print("| decode, tokens/s | \(fixed(tokensPerSecond(r.decodeMsPerToken))) | "
              + "\(r.torchDecodeMsPerToken.map { fixed(tokensPerSecond($0)) } ?? "–") | "
              + "\(r.torchDecodeMsPerToken.map { fixed(r.decodeMsPerToken / $0) } ?? "–") |")
        print("\nfast mode: last-position logits off by \(String(format: "%.1e", r.fastLogitError)) (max |Δ| / max |exact|)")
        print("weights \(fixed(Double(r.weightBytes) / 1e9)) GB; plain read \(fixed(r.readGBps, 1)) GB/s; fastest decode step "
              + "\(fixed(r.fastestStepMs, 0)) ms = \(fixed(100 * r.bandwidthFraction, 0))% of the read rate; Swift peak RSS \(fixed(r.peakMiB, 0)) MiB")
    }
    modelTorch?.close()
}
