import COpenBLAS
import MGTensor

/// GFLOP/s of `linear` (weights `[N, K]` as HF stores them) against a direct `cblas_sgemm` with the
/// same operands and transposition, interleaved so both see the same machine state.
struct GEMMResult {
    let m: Int, k: Int, n: Int
    let tensorGFLOPS: Double
    let blasGFLOPS: Double
    let torchGFLOPS: Double?
}

func runGEMM(m: Int, k: Int, n: Int, repeat count: Int, torch: TorchReference?) throws -> GEMMResult {
    let x = try randomTensor([m, k])
    let w = try randomTensor([n, k], seed: 7)
    var output = [Float](repeating: 0, count: m * n)
    let flop = 2.0 * Double(m) * Double(n) * Double(k)
    _ = Parallel.configureBLAS

    var tensorTimes: [Double] = [], blasTimes: [Double] = []
    for _ in 0..<3 {
        tensorTimes.append(try medianMilliseconds(repeat: count) { _ = try linear(x, weight: w, bias: nil) })
        blasTimes.append(medianMilliseconds(repeat: count) {
            x.withUnsafeFloats { a in
                w.withUnsafeFloats { b in
                    output.withUnsafeMutableBufferPointer { c in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                                    1, a.baseAddress, Int32(k), b.baseAddress, Int32(k), 0, c.baseAddress, Int32(n))
                    }
                }
            }
        })
    }
    let torchMs = torch?.time(op: "sgemm", args: ["M": m, "K": k, "N": n], repeat: count)
    let gflops = { (ms: Double) in flop / (ms * 1e6) }
    return GEMMResult(
        m: m, k: k, n: n,
        tensorGFLOPS: gflops(tensorTimes.min()!), blasGFLOPS: gflops(blasTimes.min()!),
        torchGFLOPS: torchMs.map(gflops))
}
