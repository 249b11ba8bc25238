import Foundation
import MGLanguage

/// Loads each `tokenizer.json` `count` times after one warm-up load and prints the median wall and
/// process CPU milliseconds (CPU time counts every thread and is steadier on a shared machine).
/// Files are read from `MG_VOCAB_DIR` (default /work/shared/vocab), e.g. `llama3/tokenizer.json`.
func runTokenizerLoads(repeat count: Int) throws {
    let base = ProcessInfo.processInfo.environment["MG_VOCAB_DIR"] ?? "/work/shared/vocab"
    print("\n| tokenizer.json | bytes | load wall ms | load CPU ms |")
    print("|---|---|---|---|")
    for name in ["llama3", "llama2"] {
        let url = URL(fileURLWithPath: base).appendingPathComponent(name).appendingPathComponent("tokenizer.json")
        guard let size = try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int else {
            print("| \(name) | missing: \(url.path) | – | – |")
            continue
        }
        _ = try TokenizerJSON(url: url)
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<max(count, 1) {
            let wallStart = DispatchTime.now().uptimeNanoseconds
            let cpuStart = processCPUNanoseconds()
            _ = try TokenizerJSON(url: url)
            cpu.append(Double(processCPUNanoseconds() - cpuStart) / 1e6)
            wall.append(Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e6)
        }
        wall.sort()
        cpu.sort()
        print("| \(name) | \(size) | \(String(format: "%.1f", wall[wall.count / 2])) | \(String(format: "%.1f", cpu[cpu.count / 2])) |")
    }
}

private func processCPUNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
