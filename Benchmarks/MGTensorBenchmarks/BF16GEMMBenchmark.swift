import Foundation
import MGTensor

/// `linear` with a BF16 weight at Gemma-2B layer shapes: the AMX path (exact, and with
/// `.bfloat16Activations`) against the conversion path (F32 `sgemm` on widened weight blocks) in the
/// same run, the exact AMX result's error relative to the conversion path, and PyTorch's all-BF16
/// `F.linear` (activations rounded to bf16 too, like our fast mode).
struct BF16GEMMResult {
    let m: Int, k: Int, n: Int
    let amxMs: Double?
    /// The AMX path with activations rounded to bf16 (one pass).
    let amxFastMs: Double?
    let convertMs: Double
    let torchMs: Double?
    /// max |amx − f32| / max |f32| over the whole output.
    let relativeError: Double?
}

func runBF16GEMM(m: Int, k: Int, n: Int, repeat count: Int, torch: TorchReference?) throws -> BF16GEMMResult {
    let x = try randomTensor([m, k])
    let w = try randomBF16Tensor([n, k], radius: 0.05, seed: 7)
    // "amx" columns: the packed kernels of the active tier (AMX or AVX-512 BF16, see KernelTier).
    let amx = MatrixKernels.packedBF16Tier != nil
    func timed(useAMX: Bool, precision: LinearPrecision = .float32) throws -> (Double, Tensor) {
        MatrixKernels.usesPackedBF16 = useAMX
        defer { MatrixKernels.usesPackedBF16 = true }
        var last: Tensor?
        let ms = try medianMilliseconds(repeat: count) { last = try linear(x, weight: w, precision: precision) }
        return (ms, last!)
    }
    var amxTimes: [Double] = [], fastTimes: [Double] = [], convertTimes: [Double] = []
    var amxOut: Tensor?, reference: Tensor?
    for _ in 0..<(count > 1 ? 2 : 1) {
        if amx {
            let (ms, out) = try timed(useAMX: true)
            amxTimes.append(ms)
            amxOut = out
            fastTimes.append(try timed(useAMX: true, precision: .bfloat16Activations).0)
        }
        let (ms, out) = try timed(useAMX: false)
        convertTimes.append(ms)
        reference = out
    }
    var error: Double?
    if let amxOut, let reference {
        var maxDifference: Float = 0, maxReference: Float = 0
        amxOut.withUnsafeFloats { a in
            reference.withUnsafeFloats { r in
                for index in 0..<r.count {
                    maxDifference = max(maxDifference, abs(a[index] - r[index]))
                    maxReference = max(maxReference, abs(r[index]))
                }
            }
        }
        error = Double(maxDifference / maxReference)
    }
    let torchMs = torch?.time(op: "linear_bf16", args: ["M": m, "K": k, "N": n], repeat: count)
    return BF16GEMMResult(
        m: m, k: k, n: n, amxMs: amxTimes.min(), amxFastMs: fastTimes.min(), convertMs: convertTimes.min()!, torchMs: torchMs,
        relativeError: error)
}
