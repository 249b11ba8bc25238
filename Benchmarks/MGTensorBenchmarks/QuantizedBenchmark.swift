import CMGKernels
import COpenBLAS
import Foundation
import MGTensor

// Integer products on GGML blocks (`--filter quant`): decode GEMV per format and layer shape in
// GB/s of weight bytes next to a plain parallel read of the same bytes in the same run, a whole
// decoder layer of Gemma-2B and Llama-7B shape as decode tokens/s, and 512-row prefill GEMMs in
// GFLOP/s next to dequantize + cblas_sgemm.
//
// Weights rotate through enough copies to exceed the last-level cache (decode streams weights from
// DRAM in a real model); timings are the median and the fastest of many alternating repetitions,
// since the machine may be shared. Tools/bench/ggml_quant_bench.py times ggml (llama.cpp) on the same
// shapes through llama-cpp-python.

struct QuantizedWeights {
    let copies: [QuantizedMatrix]
    var bytes: Int { copies[0].rowByteCount * copies[0].rows }
}

/// Random valid blocks (random bytes with small f16 scales), `copies` independent allocations.
func randomQuantizedWeights(_ format: QuantizationFormat, rows: Int, columns: Int, copies: Int, seed: UInt64) throws -> QuantizedWeights {
    let rowBytes = format.rowByteCount(columns: columns)!
    var state = seed
    let scaleOffsets: [Int] = switch format {
    case .q4_K: [0, 2]
    case .q6_K: [208]
    default: [0]
    }
    let matrices = try (0..<copies).map { _ in
        var bytes = [UInt8](repeating: 0, count: rows * rowBytes)
        bytes.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                words[i] = state
            }
        }
        let half = Float16(0.002).bitPattern
        for block in 0..<rows * rowBytes / format.bytesPerBlock {
            for offset in scaleOffsets {
                bytes[block * format.bytesPerBlock + offset] = UInt8(half & 0xff)
                bytes[block * format.bytesPerBlock + offset + 1] = UInt8(half >> 8)
            }
        }
        let tensor = try bytes.withUnsafeBytes { raw in try Tensor(shape: [bytes.count], dtype: .u8, bytes: raw) }
        return try QuantizedMatrix(format: format, rows: rows, columns: columns, storage: tensor.storage)
    }
    return QuantizedWeights(copies: matrices)
}

/// Seconds on the benchmark clock: this thread's CPU time when the products run on one thread
/// (`MG_NUM_THREADS=1`; a loaded machine then cannot stretch the numbers), wall time otherwise.
func benchmarkClock() -> Double {
    if Parallel.threadCount == 1 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
    return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}

/// Median and fastest seconds of `body(i)` over `count` runs after a warm-up.
func timeSeconds(_ count: Int, _ body: (Int) throws -> Void) rethrows -> (median: Double, best: Double) {
    try body(0)
    var times: [Double] = []
    for i in 0..<count {
        let start = benchmarkClock()
        try body(i + 1)
        times.append(benchmarkClock() - start)
    }
    times.sort()
    return (times[times.count / 2], times[0])
}

/// The bytes of `matrix` read by the worker threads in the same row chunks a product uses.
func parallelRead(_ matrix: QuantizedMatrix) -> UInt64 {
    let sums = UnsafeMutablePointer<UInt64>.allocate(capacity: matrix.rows)
    defer { sums.deallocate() }
    let base = UInt(bitPattern: matrix.rowBase(0)), rowBytes = matrix.rowByteCount, total = matrix.rows * rowBytes
    let out = UInt(bitPattern: sums)
    Parallel.forEachChunk(count: matrix.rows, minimumChunk: max(4, (1 << 18) / rowBytes)) { chunk in
        let start = chunk.lowerBound * rowBytes, end = min(total, chunk.upperBound * rowBytes)
        let pointer = UnsafePointer<UInt8>(bitPattern: base)! + start
        UnsafeMutablePointer<UInt64>(bitPattern: out)![chunk.lowerBound] = mg_qd_read_bytes(pointer, (end - start) & ~63)
    }
    return sums[0]
}

struct GEMVResult {
    let gbps: (median: Double, best: Double)
    let readGBps: (median: Double, best: Double)
    let seconds: Double
}

/// Decode GEMV and a plain read of the same bytes, alternating in one loop.
func measureGEMV(_ weights: QuantizedWeights, repeat count: Int) throws -> GEMVResult {
    let matrix = weights.copies[0]
    let x = randomValues(matrix.columns, seed: 3)
    var y = [Float](repeating: 0, count: matrix.rows)
    var productTimes: [Double] = [], readTimes: [Double] = []
    var sink: UInt64 = 0
    for i in 0..<(count + 1) {
        let weight = weights.copies[i % weights.copies.count]
        let start = benchmarkClock()
        try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMV(weight: weight, x: xs.baseAddress!, y: ys.baseAddress!)
            }
        }
        let middle = benchmarkClock()
        sink &+= parallelRead(weights.copies[(i + 1) % weights.copies.count])
        let end = benchmarkClock()
        if i > 0 {
            productTimes.append(middle - start)
            readTimes.append(end - middle)
        }
    }
    if sink == 42 { print("") }
    productTimes.sort()
    readTimes.sort()
    let bytes = Double(weights.bytes)
    return GEMVResult(
        gbps: (bytes / productTimes[count / 2] / 1e9, bytes / productTimes[0] / 1e9),
        readGBps: (bytes / readTimes[count / 2] / 1e9, bytes / readTimes[0] / 1e9),
        seconds: productTimes[count / 2])
}

func runQuantizedBenchmarks(repeat repeatCount: Int) throws {
    let formats: [QuantizationFormat] = [.q8_0, .q4_0, .q4_K, .q6_K]
    let cacheBytes = 160 << 20  // rotate through more than any last-level cache
    let clock = Parallel.threadCount == 1 ? "thread CPU time" : "wall time"
    print("\nQuantized products: tier \(QuantizedKernelTier.selected), \(Parallel.threadCount) threads (\(clock)); weights rotate through copies totalling ≥ 160 MiB")
    print("\n| GEMV rows×cols | format | MB | GB/s median (best) | read GB/s median (best) | median / read median |")
    print("|---|---|---|---|---|---|")
    var layerSeconds: [String: Double] = [:]  // "gemma Q4_0" → seconds per decoder layer
    let models: [(name: String, shapes: [(rows: Int, columns: Int, count: Int)])] = [
        ("Gemma-2B", [(2048, 2048, 2), (256, 2048, 2), (16384, 2048, 2), (2048, 16384, 1)]),  // q,o; k,v; gate,up; down
        ("Llama-7B", [(4096, 4096, 4), (11008, 4096, 2), (4096, 11008, 1)]),                   // q,k,v,o; gate,up; down
    ]
    for model in models {
        for format in formats {
            var total = 0.0
            for shape in model.shapes {
                let rowBytes = format.rowByteCount(columns: shape.columns)!
                let copies = max(1, min(64, cacheBytes / (rowBytes * shape.rows)))
                let weights = try randomQuantizedWeights(format, rows: shape.rows, columns: shape.columns, copies: copies, seed: 9)
                let r = try measureGEMV(weights, repeat: max(repeatCount, 3 * copies))
                total += r.seconds * Double(shape.count)
                print("| \(shape.rows)×\(shape.columns) (\(model.name)) | \(format.name) | \(fixed(Double(weights.bytes) / 1e6, 1)) | "
                      + "\(fixed(r.gbps.median, 1)) (\(fixed(r.gbps.best, 1))) | \(fixed(r.readGBps.median, 1)) (\(fixed(r.readGBps.best, 1))) | "
                      + "\(fixed(100 * r.gbps.median / r.readGBps.median, 0))% |")
            }
            layerSeconds["\(model.name) \(format.name)"] = total
        }
    }
    print("\n| decoder layer, decode (matrix products only) | format | ms / layer | tokens/s (18 Gemma / 32 Llama layers, no LM head) |")
    print("|---|---|---|---|")
    for model in models {
        for format in formats {
            let seconds = layerSeconds["\(model.name) \(format.name)"]!
            let layers = model.name.hasPrefix("Gemma") ? 18.0 : 32.0
            print("| \(model.name) | \(format.name) | \(fixed(1000 * seconds, 2)) | \(fixed(1 / (seconds * layers), 1)) |")
        }
    }

    print("\n| prefill GEMM tokens×cols→rows | format | integer GFLOP/s | dequantize + cblas_sgemm GFLOP/s |")
    print("|---|---|---|---|")
    let tokens = 512
    for (rows, columns) in [(2048, 2048), (4096, 4096), (11008, 4096)] {
        for format in formats {
            let weights = try randomQuantizedWeights(format, rows: rows, columns: columns, copies: 1, seed: 4)
            let weight = weights.copies[0]
            let x = randomValues(tokens * columns, seed: 5)
            var y = [Float](repeating: 0, count: tokens * rows)
            let runs = max(3, repeatCount / 2)
            let integer = try timeSeconds(runs) { _ throws(TensorError) in
                try x.withUnsafeBufferPointer { xs throws(TensorError) in
                    try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                        try quantizedGEMM(weight: weight, x: xs.baseAddress!, rows: tokens, y: ys.baseAddress!)
                    }
                }
            }
            // Dequantize once (not timed), then the F32 GEMM OpenBLAS runs on the same shape.
            var dense = [Float](repeating: 0, count: rows * columns)
            dense.withUnsafeMutableBufferPointer { out in
                _ = mg_dequantize_blocks(Int32(format.rawValue), weight.rowBase(0), out.baseAddress, rows * columns / format.blockSize)
            }
            _ = Parallel.configureBLAS
            let blas = timeSeconds(runs) { _ in
                x.withUnsafeBufferPointer { xs in
                    dense.withUnsafeBufferPointer { ws in
                        y.withUnsafeMutableBufferPointer { ys in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(tokens), Int32(rows), Int32(columns), 1,
                                        xs.baseAddress, Int32(columns), ws.baseAddress, Int32(columns), 0, ys.baseAddress, Int32(rows))
                        }
                    }
                }
            }
            let flops = 2.0 * Double(tokens * rows * columns)
            print("| \(tokens)×\(columns)→\(rows) | \(format.name) | \(fixed(flops / integer.median / 1e9, 1)) (best \(fixed(flops / integer.best / 1e9, 1))) | "
                  + "\(fixed(flops / blas.median / 1e9, 1)) |")
        }
    }
}
