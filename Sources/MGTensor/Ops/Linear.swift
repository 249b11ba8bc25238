import CMGKernels
import COpenBLAS

/// Fully connected layer `x · weightᵀ + bias`, with the weight in Hugging Face layout `[out, in]`.
///
/// The weight is read in place through BLAS's transpose flag, never copied when it is F32. F16 and
/// BF16 weights (e.g. memory-mapped from a checkpoint) are never converted as a whole: a single input
/// row (decode) uses a fused widen-and-dot kernel that streams the weight once; larger inputs use the
/// packed BF16 kernels (AMX or AVX-512 BF16) where the CPU has them (F32-level accuracy, see
/// ``MatrixKernels``), and
/// otherwise convert blocks of about 8 MB of output rows into one scratch buffer, one GEMM per block.
/// A single F32 row uses `sgemv`, which is several times faster than a one-row GEMM.
///
/// - Parameters:
///   - x: `[..., in]`, any float dtype (converted to F32 first).
///   - weight: `[out, in]` in F32, F16 or BF16.
///   - bias: optional `[out]`.
/// - Returns: `[..., out]` in F32.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when `x`'s last axis is not `in` or the
///   bias is not `[out]`, ``TensorError/invalidArgument(operation:reason:)`` when the weight is not
///   rank 2 or `x` is a scalar, ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) throws(TensorError) -> Tensor {
    try linear(x, weight: weight, bias: bias, sixteenBitKernel: .automatic)
}

/// ``linear(_:weight:bias:)`` with an explicit arithmetic for BF16 weights: `.bfloat16Activations`
/// rounds the activations of multi-row products to bf16 as PyTorch's BF16 models do (faster, ~1e-3
/// relative error; see ``LinearPrecision``). `.float32` is the same as the three-argument call.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, precision: LinearPrecision) throws(TensorError)
    -> Tensor
{
    try linear(x, weight: weight, bias: bias, sixteenBitKernel: .automatic, precision: precision)
}

/// ``linear(_:weight:bias:)`` with the multi-row 16-bit path chosen by the caller (tests pin each).
func linear(
    _ x: Tensor, weight: Tensor, bias: Tensor?, sixteenBitKernel: SixteenBitLinearKernel,
    precision: LinearPrecision = .float32
) throws(TensorError) -> Tensor {
    guard weight.rank == 2 else {
        throw .invalidArgument(operation: "linear", reason: "weight must be [out, in], got \(weight.shape)")
    }
    guard x.rank >= 1 else { throw .invalidArgument(operation: "linear", reason: "input must have rank >= 1") }
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    guard x.shape[x.rank - 1] == inFeatures else { throw .shapeMismatch(operation: "linear", x.shape, weight.shape) }
    if let bias, bias.shape != [outFeatures] {
        throw .shapeMismatch(operation: "linear bias", bias.shape, [outFeatures])
    }
    guard weight.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: "linear", weight.dtype) }

    let input = try x.asFloat32()
    let biasValues = try bias?.asFloat32()
    let leading = Array(x.shape.dropLast())
    let rows = leading.reduce(1, *)
    var result = Tensor(uninitializedShape: leading + [outFeatures])
    if result.count == 0 { return result }
    try checkBLASDimensions([rows, outFeatures, inFeatures], operation: "linear")

    input.withUnsafeFloats { inputBuffer in
        result.withUnsafeMutableFloats { outputBuffer in
            let xPointer = inputBuffer.baseAddress!, yPointer = outputBuffer.baseAddress!
            let biasPointer = biasValues.map { $0.storage.base.assumingMemoryBound(to: Float.self) }
            if inFeatures == 0 {
                fillRows(yPointer, rows: rows, columns: outFeatures, bias: biasPointer)
                return
            }
            switch weight.dtype {
            case .f32:
                let w = weight.storage.base.assumingMemoryBound(to: Float.self)
                if let biasPointer { fillRows(yPointer, rows: rows, columns: outFeatures, bias: biasPointer) }
                let beta: Float = biasPointer == nil ? 0 : 1
                if rows == 1 {
                    BLASThreads.run(threaded: outFeatures * inFeatures >= BLASThreads.minimumThreadedGEMVElements) {
                        cblas_sgemv(
                            CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), 1, w,
                            Int32(inFeatures), xPointer, 1, beta, yPointer, 1)
                    }
                } else {
                    sgemmRowMajor(
                        m: rows, n: outFeatures, k: inFeatures, a: xPointer, b: w, transposeB: true,
                        beta: beta, c: yPointer)
                }
            default:
                if rows == 1 {
                    fusedGEMV(weight: weight, x: xPointer, bias: biasPointer, y: yPointer)
                } else if let tier = packedBF16Tier(weight: weight, kernel: sixteenBitKernel),
                    packedBF16Linear(
                        weight: weight, x: xPointer, rows: rows, bias: biasPointer, y: yPointer, precision: precision,
                        tier: tier)
                {
                    return
                } else {
                    blockedLinear(weight: weight, x: xPointer, rows: rows, bias: biasPointer, y: yPointer)
                }
            }
        }
    }
    return result
}

/// Output rows of a 16-bit `[out, in]` weight converted per block: about 8 MB of F32, a multiple
/// of 16 rows (friendly to the GEMM micro-kernel), at most `out`.
func linearWeightBlockRows(outFeatures: Int, inFeatures: Int) -> Int {
    let budget = 2 << 20
    return min(outFeatures, max(16, budget / max(1, inFeatures)) / 16 * 16)
}

/// `y = x · Wᵀ (+ bias)` for a 16-bit weight, converting blocks of output rows on use. Each block's
/// GEMM writes its own columns of `y` (ldc = out), so no output is copied either.
private func blockedLinear(
    weight: Tensor, x: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
) {
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    let blockRows = linearWeightBlockRows(outFeatures: outFeatures, inFeatures: inFeatures)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * inFeatures)
    defer { scratch.deallocate() }
    if let bias { fillRows(y, rows: rows, columns: outFeatures, bias: bias) }
    var start = 0
    while start < outFeatures {
        let count = min(blockRows, outFeatures - start)
        weight.convertToFloats(into: scratch, range: start * inFeatures..<(start + count) * inFeatures)
        sgemmRowMajor(
            m: rows, n: count, k: inFeatures, a: x, b: scratch, transposeB: true,
            beta: bias == nil ? 0 : 1, c: y + start, ldc: outFeatures)
        start += count
    }
}

/// One-row product with a 16-bit weight, split over the cores by output rows.
private func fusedGEMV(weight: Tensor, x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    let w = weight.storage.base.assumingMemoryBound(to: UInt16.self)
    let isBF16 = weight.dtype == .bf16
    let pointers = UncheckedSendable((w, x, bias, y))
    // At least ~64K weights per chunk so the dispatch cost stays negligible.
    Parallel.forEachChunk(count: outFeatures, minimumChunk: max(4, (1 << 16) / inFeatures)) { range in
        let (w, x, bias, y) = pointers.value
        let rowWeights = w + range.lowerBound * inFeatures
        let rowBias = bias.map { $0 + range.lowerBound }
        if isBF16 {
            mg_gemv_bf16(rowWeights, x, rowBias, y + range.lowerBound, range.count, inFeatures)
        } else {
            mg_gemv_f16(rowWeights, x, rowBias, y + range.lowerBound, range.count, inFeatures)
        }
    }
}

/// Several products of the same input, `[linear(x, weight: w) for w in weights]` (no biases).
///
/// For a single input row with 16-bit weights (decode) all the GEMVs run in one parallel pass over
/// their concatenated output rows: one thread hand-off instead of one per weight, and the memory
/// stream never stalls between small matrices (e.g. a layer's q/k/v or gate/up projections).
/// Several rows with BF16 weights on the packed kernels (AMX, AVX-512 BF16) are packed once for all
/// the products, which then share
/// one parallel pass over their output blocks. Other inputs go through
/// ``linear(_:weight:bias:precision:)`` one weight at a time.
/// - Throws: as ``linear(_:weight:bias:)`` for any of the weights.
public func linear(_ x: Tensor, weights: [Tensor], precision: LinearPrecision = .float32) throws(TensorError) -> [Tensor] {
    let inFeatures = x.shape.last ?? 0
    let sameInput = x.rank >= 1 && inFeatures > 0 && weights.allSatisfy { $0.rank == 2 && $0.shape[1] == inFeatures }
    if sameInput, weights.count > 1, x.count > inFeatures, x.dtype.isFloatingPointCompute,
        let tier = MatrixKernels.packedBF16Tier,
        weights.allSatisfy({ packedBF16Tier(weight: $0, kernel: .automatic) != nil && $0.shape[0] > 0 }),
        let outputs = try multiRowPackedLinear(x, weights: weights, precision: precision, tier: tier)
    {
        return outputs
    }
    let fusable = sameInput && x.count == inFeatures
        && weights.allSatisfy { ($0.dtype == .bf16 || $0.dtype == .f16) }
    guard fusable, weights.count > 1 else {
        var results = [Tensor]()
        for weight in weights { results.append(try linear(x, weight: weight, precision: precision)) }
        return results
    }
    let input = try x.asFloat32()
    let leading = Array(x.shape.dropLast())
    let starts = weights.reduce(into: [0]) { $0.append($0.last! + $1.shape[0]) }
    // One buffer for all outputs (a few KB each in decode), split into tensors afterwards.
    var combined = Tensor(uninitializedShape: [starts.last!])
    let sources = weights.map { $0.storage.base.assumingMemoryBound(to: UInt16.self) }
    let isBF16 = weights.map { $0.dtype == .bf16 }
    input.withUnsafeFloats { xBuffer in
        combined.withUnsafeMutableFloats { yBuffer in
            let pointers = UncheckedSendable((xBuffer.baseAddress!, yBuffer.baseAddress!, sources))
            Parallel.forEachChunk(count: starts.last!, minimumChunk: max(4, (1 << 16) / inFeatures)) { range in
                let (x, y, sources) = pointers.value
                var row = range.lowerBound
                while row < range.upperBound {
                    // The weight holding `row`, and the part of the range inside it.
                    var index = 0
                    while starts[index + 1] <= row { index += 1 }
                    let end = min(range.upperBound, starts[index + 1])
                    let w = sources[index] + (row - starts[index]) * inFeatures
                    if isBF16[index] {
                        mg_gemv_bf16(w, x, nil, y + row, end - row, inFeatures)
                    } else {
                        mg_gemv_f16(w, x, nil, y + row, end - row, inFeatures)
                    }
                    row = end
                }
            }
        }
    }
    withExtendedLifetime(weights) {}
    var outputs = [Tensor]()
    for index in weights.indices {
        let part = try slice(combined, axis: 0, range: starts[index]..<starts[index + 1])
        outputs.append(try part.reshaped(leading + [weights[index].shape[0]]))
    }
    return outputs
}

/// The multi-row products of ``linear(_:weights:precision:)`` on the packed BF16 kernels of `tier`,
/// or nil when the kernel declined (the caller then runs each product on its own).
private func multiRowPackedLinear(
    _ x: Tensor, weights: [Tensor], precision: LinearPrecision, tier: KernelTier
) throws(TensorError)
    -> [Tensor]?
{
    let input = try x.asFloat32()
    let leading = Array(x.shape.dropLast())
    let rows = leading.reduce(1, *)
    for weight in weights { try checkBLASDimensions([rows, weight.shape[0], weight.shape[1]], operation: "linear") }
    // Fresh, uniquely owned results: their storage is written in place.
    let outputs = weights.map { Tensor(uninitializedShape: leading + [$0.shape[0]]) }
    let pointers = outputs.map { $0.storage.mutableBase.assumingMemoryBound(to: Float.self) }
    let accepted = input.withUnsafeFloats { xBuffer in
        packedBF16Linear(
            weights: weights, x: xBuffer.baseAddress!, rows: rows, biases: weights.map { _ in nil }, outputs: pointers,
            precision: precision, tier: tier)
    }
    withExtendedLifetime(outputs) {}
    return accepted ? outputs : nil
}

/// Writes `bias` (or zeros when nil) into every row of the `rows × columns` output.
func fillRows(_ y: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>?) {
    guard let bias else {
        y.initialize(repeating: 0, count: rows * columns)
        return
    }
    let pointers = UncheckedSendable((y, bias))
    Parallel.forEachChunk(count: rows, minimumChunk: max(1, (1 << 16) / max(1, columns))) { range in
        let (y, bias) = pointers.value
        mg_fill_rows(bias, y + range.lowerBound * columns, range.count, columns, columns)
    }
}
