import CMGKernels

// Products of a few rows (a batched decode step of B sequences) with a 16-bit weight: each weight is
// widened once for all rows, so the matrix streams from memory once per step. The multi-row GEMM
// paths pack or convert the whole matrix first, which costs more than the product itself at B ≤ 16.
// At eight rows the F32 multiply-adds (2 × 8 per weight) outweigh the weight traffic, so the
// AVX-512 kernel is register-blocked (gemv_batched.c); lower tiers run its portable loop. With
// `.bfloat16Activations` at a packed BF16 tier the rows are rounded to bf16 once and multiplied with
// `vdpbf16ps` (gemv_batched_bf16act.c): half the instructions, as the multi-row products of that mode.

/// The largest row count ``fewRowLinear(_:weight:bias:)`` takes.
let fewRowLinearLimit = 16

/// `x · Wᵀ (+ bias)` for `x` `[rows, in]` with 2 ≤ rows ≤ ``fewRowLinearLimit`` and a BF16 or F16
/// `[out, in]` weight, F32 accumulation in 16 lanes per output (summed in lane order, then the
/// column tail); nil for other inputs. `precision` as for ``linear(_:weight:bias:precision:)``:
/// `.bfloat16Activations` rounds the rows to bf16 where the packed BF16 kernels would (BF16 weights,
/// ``MatrixKernels/packedBF16Tier`` set) and stays exact elsewhere.
func fewRowLinear(
    _ x: Tensor, weight: Tensor, bias: Tensor?, precision: LinearPrecision = .float32
) throws(TensorError) -> Tensor? {
    let rows = x.rank == 2 ? x.shape[0] : 0
    guard (2...fewRowLinearLimit).contains(rows), weight.rank == 2, weight.dtype == .bf16 || weight.dtype == .f16,
          x.shape[1] == weight.shape[1], bias == nil || bias?.shape == [weight.shape[0]]
    else { return nil }
    let input = try x.asFloat32()
    let biasValues = try bias?.asFloat32()
    var result = Tensor(uninitializedShape: [rows, weight.shape[0]])
    let isBF16 = weight.dtype == .bf16
    if isBF16, precision == .bfloat16Activations, MatrixKernels.packedBF16Tier != nil {
        bfloat16ActivationRows(input, weight: weight, bias: biasValues, into: &result)
        return result
    }
    input.withUnsafeFloats { xBuffer in
        forEachOutputChunk(weight: weight, x: xBuffer.baseAddress!, bias: biasValues, into: &result, minimumChunk: 4) {
            (isBF16 ? mg_gemv_bf16_batch : mg_gemv_f16_batch)($0, $1, $2, $3, $4, $5, $6, $7)
        }
    }
    return result
}

/// The `.bfloat16Activations` form of ``fewRowLinear(_:weight:bias:precision:)``: `x` (F32,
/// `[rows, in]`) rounded to bf16 once, then every weight row multiplied by all of them.
private func bfloat16ActivationRows(_ x: Tensor, weight: Tensor, bias: Tensor?, into result: inout Tensor) {
    let rows = x.shape[0], inFeatures = weight.shape[1]
    var rounded = [UInt16](repeating: 0, count: rows * inFeatures)
    x.withUnsafeFloats { source in mg_f32_to_bf16(source.baseAddress!, &rounded, rows * inFeatures) }
    rounded.withUnsafeBufferPointer { xBuffer in
        forEachOutputChunk(weight: weight, x: xBuffer.baseAddress!, bias: bias, into: &result, minimumChunk: 3) {
            mg_gemv_bf16_batch_bf16act($0, $1, $2, $3, $4, $5, $6, $7)
        }
    }
}

/// Runs a few-row kernel on chunks of the weight's output features in parallel. `kernel(w, x, bias,
/// y, ldy, n, k, rows)`, as the gemv_batched.c kernels take them, gets the chunk's first weight
/// row, all rows of `x`, the chunk's bias and first output column, and the output row stride.
/// Chunks hold at least `minimumChunk` outputs and about 64 K weights, so small matrices stay on one thread.
private func forEachOutputChunk<Element>(
    weight: Tensor, x: UnsafePointer<Element>, bias: Tensor?, into result: inout Tensor, minimumChunk: Int,
    _ kernel: (UnsafePointer<UInt16>, UnsafePointer<Element>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>, Int, Int, Int, Int) -> Void
) {
    let rows = result.shape[0], outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    let weights = UnsafePointer(weight.storage.base.assumingMemoryBound(to: UInt16.self))
    let biasPointer = bias.map { UnsafePointer($0.storage.base.assumingMemoryBound(to: Float.self)) }
    result.withUnsafeMutableFloats { yBuffer in
        let pointers = UncheckedSendable((weights, x, biasPointer, yBuffer.baseAddress!))
        Parallel.forEachChunk(count: outFeatures, minimumChunk: max(minimumChunk, (1 << 16) / max(1, inFeatures))) { range in
            let (w, x, bias, y) = pointers.value
            kernel(w + range.lowerBound * inFeatures, x, bias.map { $0 + range.lowerBound }, y + range.lowerBound, outFeatures,
                   range.count, inFeatures, rows)
        }
    }
    withExtendedLifetime((weight, bias)) {}
}
