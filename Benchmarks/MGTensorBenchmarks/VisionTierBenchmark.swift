import COpenBLAS
import Foundation
import MGTensor
import MGVision

// The vision towers at the active kernel tier (issue #16): CLIP ViT-L/14-336 and ConvNeXt-L @768 in
// exact F32 and in the opt-in bf16 mode, next to PyTorch F32 (and BF16) capped to the same
// instruction set, plus where one CLIP layer and one ConvNeXt block spend their time. Timings are
// process CPU time per thread (the machine is shared), with the wall medians alongside.

/// Median timing of `body` (CPU per thread and wall) after a warm-up.
private func timing(_ count: Int, _ body: () throws -> Void) rethrows -> TierTiming {
    try measureTiming(repeat: count, threads: Parallel.threadCount, body)
}

private func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// max |a − b| / max |b|, the parity metric of the test suite.
private func relativeError(_ actual: Tensor, _ expected: Tensor) throws -> Double {
    let a = try actual.floats(), b = try expected.floats()
    var difference: Float = 0, reference: Float = 0
    for index in a.indices {
        difference = max(difference, abs(a[index] - b[index]))
        reference = max(reference, abs(b[index]))
    }
    return Double(difference / max(reference, .leastNormalMagnitude))
}

func runVisionTierBenchmarks(repositoryRoot root: URL, repeat count: Int, withTorch: Bool) throws {
    let tier = KernelTier.active, threads = Parallel.threadCount
    let torch = withTorch
        ? TorchReference(repositoryRoot: root, script: "Tools/bench/torch_models.py", threads: threads, environment: oneDNNCap(tier)) : nil
    print("\n## Vision towers at kernel tier \(tier) (detected \(KernelTier.detected)), \(threads) threads")
    print("CPU: \(cpuDescription())")
    print("OpenBLAS core: \(String(cString: openblas_get_corename()))")
    print("PyTorch: \(torch?.banner ?? "not available") capped with \(oneDNNCap(tier))")
    print("load average before: \(loadAverage())")
    let runs = max(1, min(count, 3))

    func torchTiming(_ op: String, _ args: [String: Any]) -> TierTiming? {
        guard let reply = torch?.request(op: op, args: args, repeat: runs), let wall = reply["ms"] as? Double,
            let cpu = reply["cpu_ms"] as? Double
        else { return nil }
        return TierTiming(wallMs: wall, cpuMs: cpu)
    }
    let header = "\n| tower (random F32 weights) | mode | ms (CPU/thread) | ms (wall) | PyTorch F32 ms (CPU / wall) | "
        + "ratio to PyTorch F32 (CPU / wall) | PyTorch BF16 ms (CPU) | rel. error vs F32 |\n|---|---|---|---|---|---|---|---|"
    var torchRows: [() -> Void] = []
    func rows(_ name: String, exact: TierTiming, fast: TierTiming, error: Double, torch32: TierTiming?, torch16: TierTiming?) {
        for (mode, t, e) in [("exact F32", exact, "–"), ("bf16", fast, String(format: "%.1e", error))] {
            let reference = torch32.map { "\(fixed($0.cpuMs, 0)) / \(fixed($0.wallMs, 0))" } ?? "–"
            let ratio = torch32.map { "\(fixed(t.cpuMs / $0.cpuMs)) / \(fixed(t.wallMs / $0.wallMs))" } ?? "–"
            print("| \(name) | \(mode) | \(fixed(t.cpuMs, 0)) | \(fixed(t.wallMs, 0)) | \(reference) | \(ratio) | "
                + "\(torch16.map { fixed($0.cpuMs, 0) } ?? "–") | \(e) |")
        }
    }

    // `--only clip` / `--only convnext`: one tower (a full run takes 25+ minutes on a loaded machine).
    let only = CommandLine.arguments.firstIndex(of: "--only").flatMap { $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil }
    if only == nil || only == "clip" {
        let configuration = CLIPVisionConfiguration.vitLarge14x336
        let weights = try MemoryWeights.random(
            clipVisionShapes(
                hidden: configuration.hiddenSize, intermediate: configuration.intermediateSize,
                layers: configuration.hiddenLayerCount, patch: configuration.patchSize, tokens: configuration.patchCount + 1))
        let exact = try CLIPVisionTower(configuration: configuration, weights: weights)
        let fast = try CLIPVisionTower(configuration: configuration, weights: weights, precision: .bfloat16)
        let pixels = try randomTensor([1, 3, 336, 336])
        let error = try relativeError(fast.encode(pixels), exact.encode(pixels))
        let exactTiming = try timing(runs) { _ = try exact.encode(pixels) }
        let fastTiming = try timing(runs) { _ = try fast.encode(pixels) }
        torchRows.append {
            rows(
                "CLIP ViT-L/14-336, 1 image", exact: exactTiming, fast: fastTiming, error: error,
                torch32: torchTiming("clip_vit_l336", [:]),
                torch16: tier >= .avx512BF16 ? torchTiming("clip_vit_l336", ["dtype": "bf16"]) : nil)
        }
    }
    if only == nil || only == "convnext" {
        let configuration = ConvNeXtConfiguration.large
        let weights = try MemoryWeights.random(convNeXtShapes(depths: configuration.depths, widths: configuration.widths))
        let exact = try ConvNeXtTower(configuration: configuration, weights: weights)
        let fast = try ConvNeXtTower(configuration: configuration, weights: weights, precision: .bfloat16)
        let pixels = try randomTensor([1, 3, 768, 768])
        let error = try relativeError(fast.encode(pixels), exact.encode(pixels))
        let exactTiming = try timing(runs) { _ = try exact.encode(pixels) }
        let fastTiming = try timing(runs) { _ = try fast.encode(pixels) }
        try convNeXtTowerParts(exact: exact, fast: fast, pixels: pixels)
        torchRows.append {
            rows(
                "ConvNeXt-L @768, fused map", exact: exactTiming, fast: fastTiming, error: error,
                torch32: torchTiming("convnext_l", ["size": 768]),
                torch16: tier >= .avx512BF16 ? torchTiming("convnext_l", ["size": 768, "dtype": "bf16"]) : nil)
        }
    }
    if only == nil || only == "clip" { try clipLayerBreakdown(repeat: runs) }
    if only == nil || only == "convnext" { try convNeXtBlockBreakdown(repeat: runs) }
    // PyTorch runs last: after its requests its idle worker threads measurably slowed our products
    // in the same process tree (CLIP bf16 fc2 530 → 268 ms when timed before any PyTorch request).
    print(header)
    for row in torchRows { row() }
    print("\nload average after: \(loadAverage())")
    torch?.close()
}

/// The operations of one CLIP ViT-L/14-336 encoder layer (577 tokens), each timed alone, × 23
/// layers (Mini-Gemini evaluates hidden_states[-2]).
private func clipLayerBreakdown(repeat runs: Int) throws {
    let t = 577, c = 1024, i = 4096, heads = 16, d = 64, layers = 23.0
    let x = try randomTensor([1, t, c]), wide = try randomTensor([1, t, i])
    let qkv = try randomTensor([3, 1, heads, t, d])
    let norm = try Tensor(shape: [c], values: [Float](repeating: 1, count: c))
    let shapes: [(String, Tensor, Int)] = [
        ("q/k/v 1024→3072", x, 3 * c), ("out 1024→1024", x, c), ("fc1 1024→4096", x, i), ("fc2 4096→1024", wide, c),
    ]
    print("\n| CLIP layer part (×23 layers) | exact ms (CPU/thread) | bf16 ms (CPU/thread) |")
    print("|---|---|---|")
    var exactTotal = 0.0, fastTotal = 0.0
    for (index, (name, input, out)) in shapes.enumerated() {
        let weight = try randomTensor([out, input.shape[2]], seed: UInt64(100 + index))
        let weight16 = try weight.converted(to: .bf16)
        let exact = try timing(runs) { _ = try linear(input, weight: weight) }.cpuMs * layers
        let fast = try timing(runs) { _ = try linear(input, weight: weight16, precision: .bfloat16Activations) }.cpuMs * layers
        exactTotal += exact
        fastTotal += fast
        print("| \(name) | \(fixed(exact, 0)) | \(fixed(fast, 0)) |")
    }
    let attention = try timing(runs) {
        _ = try scaledDotProductAttention(qkv.row(0), key: qkv.row(1), value: qkv.row(2), scale: 0.125)
    }.cpuMs * layers
    let full = try randomTensor([1, t, 3 * c]).reshaped([1, t, 3, heads, d])
    let split = try timing(runs) {
        _ = try permute(full, [2, 0, 3, 1, 4])
        _ = try permute(qkv.row(0), [0, 2, 1, 3])
    }.cpuMs * layers
    let norms = try timing(runs) {
        _ = try layerNorm(x, weight: norm, bias: norm)
        _ = try layerNorm(x, weight: norm, bias: norm)
    }.cpuMs * layers
    let activation = try timing(runs) { _ = try quickGelu(wide) }.cpuMs * layers
    let residual = try timing(runs) {
        var h = x
        try addInPlace(&h, x)
        try addInPlace(&h, x)
    }.cpuMs * layers
    // The bf16 mode's attention reads the packed q/k/v rows and writes merged heads: no permutes.
    let packed = try full.reshaped([1, t, 3 * c])
    let fastAttention = try timing(runs) { _ = try bf16SelfAttention(packedQKV: packed, heads: heads, scale: 0.125) }.cpuMs * layers
    print("| attention (16 heads × 577²) | \(fixed(attention, 0)) | \(fixed(fastAttention, 0)) (bf16 products, incl. split/merge) |")
    print("| q/k/v split + head merge (permutes) | \(fixed(split, 0)) | 0 |")
    for (name, ms) in [("2 LayerNorms", norms), ("quick_gelu 577×4096", activation), ("2 residual adds", residual)] {
        print("| \(name) | \(fixed(ms, 0)) | same |")
    }
    let rest = attention + split + norms + activation + residual
    let fastRest = fastAttention + norms + activation + residual
    print("| **sum**: GEMMs / rest | \(fixed(exactTotal, 0)) / \(fixed(rest, 0)) | \(fixed(fastTotal, 0)) / \(fixed(fastRest, 0)) |")
}

/// The operations of one ConvNeXt-L block per stage at 768 (maps 192², 96², 48², 24²), each timed
/// alone, × the stage's depth.
private func convNeXtBlockBreakdown(repeat runs: Int) throws {
    let widths = [192, 384, 768, 1536], depths = [3, 3, 27, 3], sides = [192, 96, 48, 24]
    print("\n| ConvNeXt-L @768 block parts (× depth, all stages) | exact ms (CPU/thread) | bf16 ms (CPU/thread) |")
    print("|---|---|---|")
    var totals = [String: (Double, Double)]()
    let order = ["depthwise 7×7", "LayerNorm2d", "fc1 + fc2", "GELU", "transposes (bf16 mode)", "residual"]
    for stage in 0..<4 {
        let c = widths[stage], p = sides[stage] * sides[stage], depth = Double(depths[stage])
        let x = try randomTensor([1, c, sides[stage], sides[stage]])
        let dw = try randomTensor([c, 1, 7, 7]), bias = try randomTensor([c])
        let columns = try x.reshaped([1, c, p])
        let fc1 = try randomTensor([4 * c, c], seed: 7), fc2 = try randomTensor([c, 4 * c], seed: 8)
        let fc1h = try fc1.converted(to: .bf16), fc2h = try fc2.converted(to: .bf16)
        let hidden = try randomTensor([1, 4 * c, p])
        func add(_ name: String, _ exact: Double, _ fast: Double) {
            let old = totals[name] ?? (0, 0)
            totals[name] = (old.0 + exact * depth, old.1 + fast * depth)
        }
        let conv = try timing(runs) { _ = try conv2d(x, weight: dw, bias: bias, padding: (3, 3), groups: c) }.cpuMs
        add("depthwise 7×7", conv, conv)
        let norm = try timing(runs) { _ = try layerNorm2d(x, weight: bias, bias: bias) }.cpuMs
        add("LayerNorm2d", norm, norm)
        let exact = try timing(runs) {
            _ = try matmul(fc1, columns)
            _ = try matmul(fc2, hidden)
        }.cpuMs
        let rows = try permute(columns, [0, 2, 1]), wideRows = try permute(hidden, [0, 2, 1])
        let fast = try timing(runs) {
            _ = try linear(rows, weight: fc1h, precision: .bfloat16Activations)
            _ = try linear(wideRows, weight: fc2h, precision: .bfloat16Activations)
        }.cpuMs
        add("fc1 + fc2", exact, fast)
        let activation = try timing(runs) { _ = try gelu(hidden) }.cpuMs
        add("GELU", activation, activation)
        let transposes = try timing(runs) {
            _ = try permute(columns, [0, 2, 1])
            _ = try permute(rows, [0, 2, 1])
        }.cpuMs
        add("transposes (bf16 mode)", 0, transposes)
        let residual = try timing(runs) {
            var y = x
            try addInPlace(&y, x)
            try addInPlace(&y, bias.reshaped([c, 1, 1]))
        }.cpuMs
        add("residual", residual, residual)
    }
    var sums = (0.0, 0.0)
    for name in order {
        let (exact, fast) = totals[name] ?? (0, 0)
        sums = (sums.0 + exact, sums.1 + fast)
        print("| \(name) | \(fixed(exact, 0)) | \(fixed(fast, 0)) |")
    }
    print("| **sum** | \(fixed(sums.0, 0)) | \(fixed(sums.1, 0)) |")
}

/// The whole ConvNeXt-L @768 tower split into its parts, each summed over the run (one warm run per
/// mode, CPU ms per thread): every operation the tower runs is inside one part, so the parts add up to
/// the tower's time (`stageOutputs(_:mark:)` reads the clock after each part, then the fusion).
private func convNeXtTowerParts(exact: ConvNeXtTower, fast: ConvNeXtTower, pixels: Tensor) throws {
    func cpuMs() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return (Double(now.tv_sec) * 1e3 + Double(now.tv_nsec) / 1e6) / Double(Parallel.threadCount)
    }
    func parts(_ tower: ConvNeXtTower) throws -> (order: [String], ms: [String: Double]) {
        var order = [String](), ms = [String: Double]()
        var last = cpuMs()
        let mark: (String) -> Void = { name in
            let now = cpuMs()
            if ms[name] == nil { order.append(name) }
            ms[name, default: 0] += now - last
            last = now
        }
        let outputs = try tower.stageOutputs(pixels, mark: mark)
        _ = try ConvNeXtTower.fuse(outputs)
        mark("fusion (3 bilinear resizes into the 2880-channel map)")
        return (order, ms)
    }
    _ = try exact.encode(pixels)  // warm-up of both
    _ = try fast.encode(pixels)
    let a = try parts(exact), b = try parts(fast)
    print("\n| ConvNeXt-L @768 whole tower by part (one run) | exact ms (CPU/thread) | bf16 ms (CPU/thread) |")
    print("|---|---|---|")
    var names = a.order
    for name in b.order where !names.contains(name) { names.append(name) }
    for name in names {
        print("| \(name) | \(a.ms[name].map { fixed($0, 0) } ?? "–") | \(b.ms[name].map { fixed($0, 0) } ?? "–") |")
    }
    print("| **total** | \(fixed(a.ms.values.reduce(0, +), 0)) | \(fixed(b.ms.values.reduce(0, +), 0)) |")
}
