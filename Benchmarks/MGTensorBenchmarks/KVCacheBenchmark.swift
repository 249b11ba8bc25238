import CMGKernels
import Foundation
import MGTensor

// The KV cache benchmark (`--filter kvcache [--steps N]`): the attention of one decode step over
// every layer's cache (a query row against `positions` cached keys and values per layer, the new
// key/value row written first) with an F32 and an F16 cache, alternating step by step in one
// process, timed by wall clock and by the process's CPU time. Llama-7B (32 layers × 32 KV heads of
// 128) and Gemma-2B (18 layers × 1 KV head of 256, 8 query heads) at 512 and 2048 positions; the
// whole cache (up to 2.1 GB for Llama at 2048 in F32) is far larger than the caches of the CPU,
// so each step streams it from memory, as a real decode step does. After each step a plain read of
// that cache's two buffers on the same threads gives the memory's rate in this process (it moves
// between ~31–35 and ~50–63 GB/s from run to run on the shared Zen 4 VM), and the last column the
// attention's share of it. The caches have huge pages like the library's (`MG_HUGE_PAGES=0`: 4 KB).

private func processCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// One precision's cache for every layer, filled with random keys and values up to `positions`.
private final class LayeredCache {
    let precision: KVCachePrecision
    let layers: Int, headStride: Int, capacity: Int
    let keys: UnsafeMutableRawPointer, values: UnsafeMutableRawPointer

    init(precision: KVCachePrecision, layers: Int, kvHeads: Int, headDim: Int, positions: Int) {
        self.precision = precision
        self.layers = layers
        capacity = positions + 1
        headStride = capacity * headDim
        let count = layers * kvHeads * headStride
        // Huge pages, as the library's KVCacheStorage has them.
        bytes = count * precision.elementBytes
        let key = HugePageBuffers.system.allocate(byteCount: bytes), value = HugePageBuffers.system.allocate(byteCount: bytes)
        (keys, values, allocated) = (key.pointer, value.pointer, (key.byteCount, value.byteCount))
        var state: UInt32 = 12345
        let source = (0..<count).map { _ -> Float in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Float(Int32(bitPattern: state >> 8) - (1 << 23)) / Float(1 << 23)
        }
        switch precision {
        case .float32:
            source.withUnsafeBufferPointer { s in
                keys.copyMemory(from: s.baseAddress!, byteCount: count * 4)
                values.copyMemory(from: s.baseAddress!, byteCount: count * 4)
            }
        case .float16:
            mg_f32_to_f16(source, keys.assumingMemoryBound(to: UInt16.self), count)
            mg_f32_to_f16(source, values.assumingMemoryBound(to: UInt16.self), count)
        }
    }

    /// Bytes of each buffer, and the sizes HugePageBuffers allocated (they differ when one mapping fails).
    let bytes: Int
    private let allocated: (keys: Int, values: Int)

    deinit {
        HugePageBuffers.system.deallocate(keys, byteCount: allocated.keys)
        HugePageBuffers.system.deallocate(values, byteCount: allocated.values)
    }

    /// Seconds of a plain read of both buffers on the worker threads (the memory's rate in this process).
    func readSeconds() -> Double {
        parallelReadSeconds([(UnsafeRawPointer(keys), bytes), (UnsafeRawPointer(values), bytes)], chunk: 1 << 20).seconds
    }

    func sequence(layer: Int, kvHeads: Int, past: Int) -> AttentionCacheSequence {
        let offset = layer * kvHeads * headStride * precision.elementBytes
        return AttentionCacheSequence(
            rows: 0..<1, past: past, keyStorage: keys + offset, valueStorage: values + offset, precision: precision,
            headStride: headStride, capacity: capacity)
    }
}

func runKVCacheBenchmark(steps: Int) throws {
    Parallel.configureBLAS
    print("KV cache attention, one decode step over all layers; \(Parallel.threadCount) threads, tier \(KernelTier.active)")
    print("| shape | positions | cache | cache MB read per step | wall ms/step min / median | CPU ms/step median | GB/s (median wall) | plain read GB/s | attention ÷ read |")
    print("|---|---|---|---|---|---|---|---|---|")
    let shapes: [(name: String, layers: Int, heads: Int, kvHeads: Int, headDim: Int)] = [
        ("Llama-7B", 32, 32, 32, 128), ("Gemma-2B", 18, 8, 1, 256),
    ]
    for shape in shapes {
        for positions in [512, 2048] {
            let caches = KVCachePrecision.allCases.map {
                LayeredCache(precision: $0, layers: shape.layers, kvHeads: shape.kvHeads, headDim: shape.headDim, positions: positions)
            }
            let query = try Tensor(shape: [1, shape.heads * shape.headDim], values: (0..<(shape.heads * shape.headDim)).map { Float($0 % 7) * 0.1 - 0.3 })
            let kv = try Tensor(shape: [1, shape.kvHeads * shape.headDim], values: (0..<(shape.kvHeads * shape.headDim)).map { Float($0 % 5) * 0.1 - 0.2 })
            var wall = [[Double]](repeating: [], count: caches.count), cpu = wall, read = wall
            for step in 0..<(steps + 1) {
                for (index, cache) in caches.enumerated() {
                    let startWall = DispatchTime.now().uptimeNanoseconds, startCPU = processCPUSeconds()
                    for layer in 0..<shape.layers {
                        _ = try cachedAttention(
                            query: query, key: kv, value: kv,
                            sequences: [cache.sequence(layer: layer, kvHeads: shape.kvHeads, past: positions - 1)],
                            heads: shape.heads, keyValueHeads: shape.kvHeads)
                    }
                    if step > 0 {  // the first step warms up
                        wall[index].append(Double(DispatchTime.now().uptimeNanoseconds - startWall) / 1e6)
                        cpu[index].append((processCPUSeconds() - startCPU) * 1000)
                        read[index].append(cache.readSeconds())
                    }
                }
            }
            for (index, cache) in caches.enumerated() {
                let bytes = Double(2 * shape.layers * shape.kvHeads * positions * shape.headDim * cache.precision.elementBytes)
                let w = wall[index].sorted(), c = cpu[index].sorted(), r = read[index].sorted()
                let median = w[w.count / 2]
                // The read covers both whole buffers (every layer, capacity positions): its rate is the memory's.
                let readRate = Double(2 * cache.bytes) / r[r.count / 2] / 1e9
                print("| \(shape.name) | \(positions) | \(cache.precision.rawValue) | \(String(format: "%.0f", bytes / 1e6)) | "
                    + "\(String(format: "%.2f", w[0])) / \(String(format: "%.2f", median)) | \(String(format: "%.2f", c[c.count / 2])) | "
                    + "\(String(format: "%.1f", bytes / median / 1e6)) | \(String(format: "%.1f", readRate)) | "
                    + "\(String(format: "%.0f", 100 * bytes / median / 1e6 / readRate)) % |")
            }
        }
    }
}
