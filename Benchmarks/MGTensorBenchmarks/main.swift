import Foundation
import MGTensor

// MGTensor benchmarks: GEMM through MGTensor vs a direct cblas_sgemm, and every non-GEMM op at model
// size next to PyTorch (fp32, same thread count) measured in the same run.
// Usage: MGTensorBenchmarks [--repeat N] [--no-torch] [--filter TEXT]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let repeatCount = option("--repeat").flatMap(Int.init) ?? 7
let filter = option("--filter")
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
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

print("\n| operation | MGTensor ms | PyTorch ms | Swift/PyTorch |")
print("|---|---|---|---|")
var worst = 0.0
for benchmark in operationCases() {
    if let filter, !benchmark.name.lowercased().contains(filter.lowercased()) { continue }
    let run = try benchmark.prepare()
    let swiftMs = try medianMilliseconds(repeat: repeatCount, run)
    let torchMs = torch?.time(op: benchmark.torchOp, args: benchmark.torchArgs, repeat: repeatCount)
    let ratio = torchMs.map { swiftMs / $0 }
    if let ratio { worst = max(worst, ratio) }
    print("| \(pad(benchmark.name, 34)) | \(fixed(swiftMs)) | \(torchMs.map { fixed($0) } ?? "–") | \(ratio.map { fixed($0) } ?? "–") |")
}
if torch != nil { print("\nworst Swift/PyTorch ratio: \(fixed(worst))") }
print("peak RSS: \(fixed(peakResidentMiB(), 0)) MiB")
torch?.close()
