import Foundation
import MGLanguage
import MGTensor

// The decode benchmark (`--filter decode [--steps N]`): single-token steps of the Gemma-2B shape
// (BF16 weights) on a 16-token cache in the exact and the bf16-activation mode, the step's matrix
// products alone, and a plain read of every weight byte, alternating, timed by wall clock and by the
// process's CPU time per thread (meaningful on a shared machine, where wall time is not); then each
// kind of product (q/k/v, o, gate/up, down over all layers, the 1 GB vocabulary projection) next to a
// read of the same tensors.
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
    // Both arithmetic modes; a single row takes the same GEMVs in both (only multi-row products
    // round activations to bf16), so their steps should time alike.
    let exact = try gemmaModel(weights: weights, precision: .float32)
    let rounded = try gemmaModel(weights: weights, precision: .bfloat16Activations)
    var exactCache = try exact.newCache(maximumLength: 16 + steps + 1)
    var roundedCache = try rounded.newCache(maximumLength: 16 + steps + 1)
    var exactLogits = try exact.forward(ids: ids, cache: &exactCache)
    var roundedLogits = try rounded.forward(ids: ids, cache: &roundedCache)
    let gigabytes = Double(weights.byteCount) / 1e9
    print("Gemma-2B-shape decode, tier \(KernelTier.active), \(threads) threads; "
          + "\(String(format: "%.2f", gigabytes)) GB of weights per step")
    let products = try DecodeProducts(weights: weights, layers: 18)
    var samples = [String: (wall: [Double], cpu: [Double])]()
    func record(_ name: String, _ time: (wall: Double, cpu: Double)) {
        samples[name, default: ([], [])].wall.append(time.wall)
        samples[name, default: ([], [])].cpu.append(time.cpu)
    }
    // Warm-up step (first touch of the cache rows, thread start).
    exactLogits = try exact.forward(ids: [try argmax(exactLogits)], cache: &exactCache)
    roundedLogits = try rounded.forward(ids: [try argmax(roundedLogits)], cache: &roundedCache)
    try products.run()
    // Alternating, so each kind of pass sees the same machine state on average.
    for _ in 0..<steps {
        let next = try argmax(exactLogits), nextRounded = try argmax(roundedLogits)
        record("step", try timed(threads: threads) { exactLogits = try exact.forward(ids: [next], cache: &exactCache) })
        record("read", timed(threads: threads) { _ = readSeconds(weights) })
        record("bf16", try timed(threads: threads) {
            roundedLogits = try rounded.forward(ids: [nextRounded], cache: &roundedCache)
        })
        record("products", try timed(threads: threads) { try products.run() })
    }
    func rate(_ name: String) -> String {
        guard let s = samples[name] else { return "–" }
        return String(format: "%.1f / %.1f", gigabytes / s.wall.min()! * 1000, gigabytes / s.cpu.min()! * 1000)
    }
    func share(_ name: String) -> String {
        guard let s = samples[name], let read = samples["read"] else { return "–" }
        return String(format: "%.1f%% / %.1f%%", 100 * read.wall.min()! / s.wall.min()!, 100 * read.cpu.min()! / s.cpu.min()!)
    }
    print("| per step (\(steps) of each, alternating) | wall ms | CPU ms per thread | GB/s (fastest, wall / CPU) | of the read (wall / CPU) |")
    print("|---|---|---|---|---|")
    for (name, label) in [
        ("step", "decode step, exact mode"), ("bf16", "decode step, bf16-activation mode"),
        ("products", "its matrix products alone (same calls, nothing between them)"), ("read", "plain read of the same weights"),
    ] {
        guard let s = samples[name] else { continue }
        print("| \(label) | \(summary(s.wall)) | \(summary(s.cpu)) | \(rate(name)) | \(share(name)) |")
    }
    print("fastest step at \(String(format: "%.1f", 100 * samples["read"]!.wall.min()! / samples["step"]!.wall.min()!))% of the fastest read (wall), "
          + "\(String(format: "%.1f", 100 * samples["read"]!.cpu.min()! / samples["step"]!.cpu.min()!))% (CPU)")
    try products.compareByKind(rounds: steps, threads: threads)
}

/// The matrix products of one decode step of the Gemma shape with nothing between them: per layer
/// the q/k/v pass, o, the gate/up pass and down, then the vocabulary projection, on fixed inputs.
private struct DecodeProducts {
    /// Kinds of pass in step order: a name and each layer's weights (fused when more than one).
    let kinds: [(name: String, perLayer: [[Tensor]])]
    let head: Tensor
    let hidden: Tensor, inner: Tensor

    init(weights: MemoryWeights, layers: Int) throws {
        func layerWeights(_ suffixes: [String]) -> [[Tensor]] {
            (0..<layers).map { l in suffixes.map { weights.tensors["model.layers.\(l).\($0).weight"]! } }
        }
        kinds = [
            ("q/k/v", layerWeights(["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"])),
            ("o", layerWeights(["self_attn.o_proj"])), ("gate/up", layerWeights(["mlp.gate_proj", "mlp.up_proj"])),
            ("down", layerWeights(["mlp.down_proj"])),
        ]
        head = weights.tensors["model.embed_tokens.weight"]!
        let hiddenSize = head.shape[1], innerSize = kinds[3].perLayer[0][0].shape[1]
        hidden = try Tensor(shape: [1, hiddenSize], values: randomValues(hiddenSize).map { $0 * 0.1 })
        inner = try Tensor(shape: [1, innerSize], values: randomValues(innerSize, seed: 5).map { $0 * 0.1 })
    }

    private func product(_ weights: [Tensor]) throws {
        let x = weights[0].shape[1] == hidden.shape[1] ? hidden : inner
        if weights.count == 1 { _ = try linear(x, weight: weights[0]) } else { _ = try linear(x, weights: weights) }
    }

    func run() throws {
        for layer in kinds[0].perLayer.indices {
            for kind in kinds { try product(kind.perLayer[layer]) }
        }
        _ = try linear(hidden, weight: head)
    }

    /// Each kind of pass over all layers (then the vocabulary projection) next to a read of the
    /// same tensors: where the step's products fall short of the read rate.
    func compareByKind(rounds: Int, threads: Int) throws {
        print("| pass | GB | products wall / CPU ms | read wall / CPU ms | products at % of the read (wall / CPU) |")
        print("|---|---|---|---|---|")
        let passes = kinds.map { kind in (kind.name + " × \(kind.perLayer.count)", kind.perLayer) } + [("vocabulary", [[head]])]
        for (name, perLayer) in passes {
            var productWall: [Double] = [], productCPU: [Double] = [], readWall: [Double] = [], readCPU: [Double] = []
            var tensors = [String: Tensor]()
            for (l, group) in perLayer.enumerated() { for (i, t) in group.enumerated() { tensors["\(l).\(i)"] = t } }
            let same = MemoryWeights(tensors: tensors)
            for _ in 0..<rounds {
                let p = try timed(threads: threads) { for group in perLayer { try product(group) } }
                let r = timed(threads: threads) { _ = readSeconds(same) }
                productWall.append(p.wall)
                productCPU.append(p.cpu)
                readWall.append(r.wall)
                readCPU.append(r.cpu)
            }
            print("| \(name) | \(String(format: "%.2f", Double(same.byteCount) / 1e9)) | "
                  + "\(String(format: "%.1f / %.1f", productWall.min()!, productCPU.min()!)) | "
                  + "\(String(format: "%.1f / %.1f", readWall.min()!, readCPU.min()!)) | "
                  + "\(String(format: "%.1f / %.1f", 100 * readWall.min()! / productWall.min()!, 100 * readCPU.min()! / productCPU.min()!)) |")
        }
    }
}
