import Foundation
import MGLanguage
import MGTensor

// The decode benchmark (`--filter decode [--steps N]`): single-token steps of the Gemma-2B shape
// (BF16 weights, exact mode) on a 16-token cache, each followed by a plain read of every weight byte,
// timed by wall clock and by the process's CPU time per thread (meaningful on a shared machine, where
// wall time is not); then the 1 GB vocabulary projection alone next to a read of the same bytes.
// Short and without PyTorch, so it also serves as a loop to run under `perf record`.

private func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// Wall and per-thread CPU milliseconds of one call of `body`.
private func timed(threads: Int, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
    let wall = DispatchTime.now().uptimeNanoseconds, cpu = cpuSeconds()
    try body()
    return (Double(DispatchTime.now().uptimeNanoseconds - wall) / 1e6, (cpuSeconds() - cpu) * 1000 / Double(threads))
}

private func summary(_ values: [Double]) -> String {
    let sorted = values.sorted()
    return "min \(String(format: "%.1f", sorted.first ?? .nan)) / median \(String(format: "%.1f", sorted[sorted.count / 2]))"
}

func runDecodeBenchmark(steps: Int) throws {
    let threads = Parallel.threadCount
    let (weights, ids) = try gemmaWeightsAndIDs(positions: 16)
    let model = try gemmaModel(weights: weights, precision: .float32)
    var cache = try model.newCache(maximumLength: 16 + steps + 1)
    var logits = try model.forward(ids: ids, cache: &cache)
    let gigabytes = Double(weights.byteCount) / 1e9
    print("Gemma-2B-shape decode, exact mode, tier \(KernelTier.active), \(threads) threads; "
          + "\(String(format: "%.2f", gigabytes)) GB of weights per step")
    var stepWall: [Double] = [], stepCPU: [Double] = [], readWall: [Double] = [], readCPU: [Double] = []
    // Warm-up step (first touch of the cache rows, thread start).
    logits = try model.forward(ids: [try argmax(logits)], cache: &cache)
    for _ in 0..<steps {
        let next = try argmax(logits)
        let step = try timed(threads: threads) { logits = try model.forward(ids: [next], cache: &cache) }
        let read = timed(threads: threads) { _ = readSeconds(weights) }
        stepWall.append(step.wall)
        stepCPU.append(step.cpu)
        readWall.append(read.wall)
        readCPU.append(read.cpu)
    }
    print("| per step | wall ms | CPU ms per thread | GB/s (fastest, wall / CPU) |")
    print("|---|---|---|---|")
    print("| decode step | \(summary(stepWall)) | \(summary(stepCPU)) | "
          + "\(String(format: "%.1f / %.1f", gigabytes / stepWall.min()! * 1000, gigabytes / stepCPU.min()! * 1000)) |")
    print("| plain read of the same weights | \(summary(readWall)) | \(summary(readCPU)) | "
          + "\(String(format: "%.1f / %.1f", gigabytes / readWall.min()! * 1000, gigabytes / readCPU.min()! * 1000)) |")
    print("fastest step at \(String(format: "%.1f", 100 * readWall.min()! / stepWall.min()!))% of the fastest read (wall), "
          + "\(String(format: "%.1f", 100 * readCPU.min()! / stepCPU.min()!))% (CPU)")

    // The vocabulary projection alone (the tied embedding, 256000 × 2048 BF16).
    guard let head = weights.tensors["model.embed_tokens.weight"] else { return }
    let x = try Tensor(shape: [1, 2048], values: randomValues(2048))
    var headWall: [Double] = [], headCPU: [Double] = [], headReadWall: [Double] = [], headReadCPU: [Double] = []
    _ = try linear(x, weight: head)
    for _ in 0..<steps {
        let product = try timed(threads: threads) { _ = try linear(x, weight: head) }
        let read = timed(threads: threads) { _ = readSeconds(MemoryWeights(tensors: ["head": head])) }
        headWall.append(product.wall)
        headCPU.append(product.cpu)
        headReadWall.append(read.wall)
        headReadCPU.append(read.cpu)
    }
    print("vocabulary projection 1×2048×256000: wall \(summary(headWall)) ms vs read \(summary(headReadWall)) ms "
          + "(\(String(format: "%.1f", 100 * headReadWall.min()! / headWall.min()!))%); CPU \(summary(headCPU)) vs "
          + "\(summary(headReadCPU)) ms (\(String(format: "%.1f", 100 * headReadCPU.min()! / headCPU.min()!))%)")
}
