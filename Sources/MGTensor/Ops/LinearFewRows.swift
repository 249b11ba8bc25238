import CMGKernels

// Products of a few rows (a batched decode step of B sequences) with a 16-bit weight: each weight is
// widened once for all rows, so the matrix streams from memory once per step. The multi-row GEMM
// paths pack or convert the whole matrix first, which costs more than the product itself at B ≤ 16.
// At eight rows the F32 multiply-adds (2 × 8 per weight) outweigh the weight traffic, so the
// AVX-512 kernel is register-blocked (gemv_batched.c); lower tiers run its portable loop.

/// The largest row count ``fewRowLinear(_:weight:bias:)`` takes.
let fewRowLinearLimit = 16

/// `x · Wᵀ (+ bias)` for `x` `[rows, in]` with 2 ≤ rows ≤ ``fewRowLinearLimit`` and a BF16 or F16
/// `[out, in]` weight, F32 accumulation in 16 lanes per output (summed in lane order, then the
/// column tail); nil for other inputs.
func fewRowLinear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws(TensorError) -> Tensor? {
    let rows = x.rank == 2 ? x.shape[0] : 0
    guard (2...fewRowLinearLimit).contains(rows), weight.rank == 2, weight.dtype == .bf16 || weight.dtype == .f16,
          x.shape[1] == weight.shape[1], bias == nil || bias?.shape == [weight.shape[0]]
    else { return nil }
    let input = try x.asFloat32()
    let biasValues = try bias?.asFloat32()
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    var result = Tensor(uninitializedShape: [rows, outFeatures])
    let isBF16 = weight.dtype == .bf16
    let weights = weight.storage.base.assumingMemoryBound(to: UInt16.self)
    let biasPointer = biasValues.map { UnsafePointer($0.storage.base.assumingMemoryBound(to: Float.self)) }
    input.withUnsafeFloats { xBuffer in
        result.withUnsafeMutableFloats { yBuffer in
            let pointers = UncheckedSendable((weights, xBuffer.baseAddress!, biasPointer, yBuffer.baseAddress!))
            Parallel.forEachChunk(count: outFeatures, minimumChunk: max(4, (1 << 16) / max(1, inFeatures))) { range in
                let (w, x, bias, y) = pointers.value
                let rowWeights = w + range.lowerBound * inFeatures, rowBias = bias.map { $0 + range.lowerBound }
                if isBF16 {
                    mg_gemv_bf16_batch(rowWeights, x, rowBias, y + range.lowerBound, outFeatures, range.count, inFeatures, rows)
                } else {
                    mg_gemv_f16_batch(rowWeights, x, rowBias, y + range.lowerBound, outFeatures, range.count, inFeatures, rows)
                }
            }
        }
    }
    withExtendedLifetime((weight, biasValues)) {}
    return result
}
