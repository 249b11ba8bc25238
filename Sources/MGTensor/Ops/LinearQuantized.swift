import CMGKernels
import COpenBLAS

/// `x · Wᵀ + bias` for a weight stored as GGML quantized blocks (`[out, in]`, usually mapped from a
/// GGUF file).
///
/// Formats with integer kernels (``QuantizationFormat/hasIntegerKernels``: Q8_0, Q4_0, Q4_K, Q6_K)
/// multiply as llama.cpp does: each activation row is quantized once per block (to Q8_0 or Q8_K)
/// and the products are integer dot products on the stored blocks
/// (``quantizedGEMM(weight:x:rows:y:bias:tier:)``), never dequantizing the weight.
///
/// The other formats take the reference path: the weight is dequantized block by block into small per-thread F32 scratch
/// buffers (a few hundred KB, never the whole matrix), bit-exact with llama.cpp's dequantization,
/// and each chunk of output rows is one single-threaded GEMM (or GEMV for one input row) into its
/// columns of the result; chunks run in parallel. The result equals ``linear(_:weight:bias:)`` on
/// the dequantized matrix up to float summation order.
///
/// - Parameters:
///   - x: `[..., in]`, any float dtype (converted to F32 first).
///   - weight: the quantized `[out, in]` matrix.
///   - bias: optional `[out]`.
/// - Returns: `[..., out]` in F32.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when `x`'s last axis is not `in` or the
///   bias is not `[out]`, ``TensorError/invalidArgument(operation:reason:)`` for a block format
///   without a dequantizer or a scalar input.
public func quantizedLinear(_ x: Tensor, weight: QuantizedMatrix, bias: Tensor?) throws(TensorError) -> Tensor {
    try quantizedLinear(x, weight: weight, bias: bias, integerKernels: true)
}

/// ``quantizedLinear(_:weight:bias:)`` with the choice of path explicit (tests pin the reference).
func quantizedLinear(_ x: Tensor, weight: QuantizedMatrix, bias: Tensor?, integerKernels: Bool) throws(TensorError) -> Tensor {
    guard x.rank >= 1 else { throw .invalidArgument(operation: "quantizedLinear", reason: "input must have rank >= 1") }
    let outFeatures = weight.rows, inFeatures = weight.columns
    guard x.shape[x.rank - 1] == inFeatures else { throw .shapeMismatch(operation: "quantizedLinear", x.shape, weight.shape) }
    if let bias, bias.shape != [outFeatures] { throw .shapeMismatch(operation: "quantizedLinear bias", bias.shape, [outFeatures]) }
    guard weight.format.supportsDequantization else {
        throw .invalidArgument(operation: "quantizedLinear", reason: "\(weight.format.name) blocks are not supported")
    }
    let input = try x.asFloat32()
    let biasValues = try bias?.asFloat32()
    let leading = Array(x.shape.dropLast())
    let rows = leading.reduce(1, *)
    var result = Tensor(uninitializedShape: leading + [outFeatures])
    if result.count == 0 { return result }
    if weight.format.hasIntegerKernels, integerKernels {
        let biasPointer = biasValues.map { UnsafePointer($0.storage.base.assumingMemoryBound(to: Float.self)) }
        try input.withUnsafeFloats { (x) throws(TensorError) in
            try result.withUnsafeMutableFloats { (y) throws(TensorError) in
                try quantizedGEMM(weight: weight, x: x.baseAddress!, rows: rows, y: y.baseAddress!, bias: biasPointer)
            }
        }
        return withExtendedLifetime(biasValues) { result }
    }
    try checkBLASDimensions([rows, outFeatures, inFeatures], operation: "quantizedLinear")
    // ~256 KB of dequantized weights per chunk: stays in L2 while the GEMM reads it.
    let chunkRows = max(1, min(outFeatures, (1 << 16) / inFeatures))
    let chunkCount = (outFeatures + chunkRows - 1) / chunkRows
    input.withUnsafeFloats { inputBuffer in
        result.withUnsafeMutableFloats { outputBuffer in
            let biasPointer = biasValues.map { $0.storage.base.assumingMemoryBound(to: Float.self) }
            let pointers = UncheckedSendable((inputBuffer.baseAddress!, outputBuffer.baseAddress!, biasPointer))
            BLASThreads.singleThreaded {
                Parallel.forEachChunk(count: chunkCount, minimumChunk: 1) { chunks in
                    let (x, y, bias) = pointers.value
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: chunkRows * inFeatures)
                    defer { scratch.deallocate() }
                    for chunk in chunks {
                        let start = chunk * chunkRows, count = min(chunkRows, outFeatures - start)
                        _ = mg_dequantize_blocks(
                            Int32(weight.format.rawValue), weight.rowBase(start), scratch,
                            count * (inFeatures / weight.format.blockSize))
                        if let bias {
                            for row in 0..<rows { (y + row * outFeatures + start).update(from: bias + start, count: count) }
                        }
                        let beta: Float = bias == nil ? 0 : 1
                        if rows == 1 {
                            cblas_sgemv(
                                CblasRowMajor, CblasNoTrans, Int32(count), Int32(inFeatures), 1, scratch,
                                Int32(inFeatures), x, 1, beta, y + start, 1)
                        } else {
                            cblas_sgemm(
                                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(count), Int32(inFeatures), 1,
                                x, Int32(inFeatures), scratch, Int32(inFeatures), beta, y + start, Int32(outFeatures))
                        }
                    }
                }
            }
        }
    }
    return result
}
