import CMGKernels

/// Bilinear resize of an NCHW tensor to `size`, identical to
/// `torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)`
/// (no antialiasing), for upsampling and downsampling by any factor.
///
/// Source coordinates and weights are computed in float32 with PyTorch's rounding
/// (`scale = in / out`, `src = scale·(dst + 0.5) − 0.5`, clamped at 0), and values are combined in
/// the order of PyTorch's separable CPU kernel, so results match it bit for bit whenever PyTorch
/// takes that kernel (output height + width > 128; smaller outputs take another PyTorch kernel and
/// differ by a few ulps).
///
/// - Parameters:
///   - input: `[N, C, H, W]`, any float dtype, with H and W positive.
///   - size: output `(height, width)`, both positive.
/// - Returns: `[N, C, size.0, size.1]` in F32.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for a non-4-D input, an empty
///   spatial input or a non-positive size; ``TensorError/unsupportedDType(operation:_:)``.
public func interpolateBilinear(_ input: Tensor, size: (Int, Int)) throws(TensorError) -> Tensor {
    try checkBilinearInput(input)
    guard size.0 > 0, size.1 > 0 else {
        throw .invalidArgument(operation: "interpolateBilinear", reason: "output size must be positive, got \(size)")
    }
    let scaleH = Float(input.shape[2]) / Float(size.0)
    let scaleW = Float(input.shape[3]) / Float(size.1)
    return try bilinear(input, outH: size.0, outW: size.1, scaleH: scaleH, scaleW: scaleW)
}

/// Bilinear resize by scale factors, identical to
/// `torch.nn.functional.interpolate(x, scale_factor=scaleFactor, mode="bilinear", align_corners=False)`
/// with `recompute_scale_factor` left unset: the output size is `floor(in · factor)` and, as in
/// PyTorch, source coordinates use `1 / factor` rather than `in / out` (they differ when
/// `in · factor` is not an integer).
///
/// - Parameters:
///   - input: `[N, C, H, W]`, any float dtype, with H and W positive.
///   - scaleFactor: `(height, width)` factors, finite and positive, giving a non-empty output.
/// - Returns: `[N, C, floor(H·fh), floor(W·fw)]` in F32.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` as for the `size:` variant, or when
///   a factor is not finite and positive or the output would be empty.
public func interpolateBilinear(_ input: Tensor, scaleFactor: (Double, Double)) throws(TensorError) -> Tensor {
    try checkBilinearInput(input)
    let operation = "interpolateBilinear"
    guard scaleFactor.0.isFinite, scaleFactor.1.isFinite, scaleFactor.0 > 0, scaleFactor.1 > 0 else {
        throw .invalidArgument(operation: operation, reason: "scale factors must be finite and positive, got \(scaleFactor)")
    }
    let outH = (Double(input.shape[2]) * scaleFactor.0).rounded(.down)
    let outW = (Double(input.shape[3]) * scaleFactor.1).rounded(.down)
    guard outH >= 1, outW >= 1, outH < Double(Int32.max), outW < Double(Int32.max) else {
        throw .invalidArgument(
            operation: operation, reason: "scale factors \(scaleFactor) give an invalid output size \(outH)×\(outW)")
    }
    return try bilinear(
        input, outH: Int(outH), outW: Int(outW), scaleH: Float(1.0 / scaleFactor.0), scaleW: Float(1.0 / scaleFactor.1))
}

/// Bilinear resize by one scale factor for both axes (e.g. MGM's `scale_factor=0.5`).
/// See the `(Double, Double)` variant for the semantics.
public func interpolateBilinear(_ input: Tensor, scaleFactor: Double) throws(TensorError) -> Tensor {
    try interpolateBilinear(input, scaleFactor: (scaleFactor, scaleFactor))
}

private func checkBilinearInput(_ input: Tensor) throws(TensorError) {
    guard input.rank == 4 else {
        throw .invalidArgument(operation: "interpolateBilinear", reason: "input must be [N, C, H, W], got \(input.shape)")
    }
    guard input.shape[2] > 0, input.shape[3] > 0 else {
        throw .invalidArgument(operation: "interpolateBilinear", reason: "input spatial size must be positive, got \(input.shape)")
    }
    guard input.shape[2] <= Int(Int32.max), input.shape[3] <= Int(Int32.max) else {
        throw .invalidArgument(operation: "interpolateBilinear", reason: "input spatial size too large: \(input.shape)")
    }
}

/// Per-axis source taps (indices and weights) of one resize, in one allocation the kernels read.
private final class LinearTaps {
    let first: UnsafeMutablePointer<Int32>, second: UnsafeMutablePointer<Int32>
    let firstWeight: UnsafeMutablePointer<Float>, secondWeight: UnsafeMutablePointer<Float>

    init(inSize: Int, outSize: Int, scale: Float) {
        first = .allocate(capacity: outSize)
        second = .allocate(capacity: outSize)
        firstWeight = .allocate(capacity: outSize)
        secondWeight = .allocate(capacity: outSize)
        mg_linear_taps(inSize, outSize, scale, first, second, firstWeight, secondWeight)
    }

    deinit {
        first.deallocate()
        second.deallocate()
        firstWeight.deallocate()
        secondWeight.deallocate()
    }
}

private func bilinear(_ input: Tensor, outH: Int, outW: Int, scaleH: Float, scaleW: Float) throws(TensorError) -> Tensor {
    let (batch, channels, inH, inW) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let shape = [batch, channels, outH, outW]
    guard Shape.elementCount(shape) != nil else { throw .invalidShape(shape) }
    let x = try input.asFloat32()
    var result = Tensor(uninitializedShape: shape)
    let planes = batch * channels
    if planes == 0 { return result }
    let rows = LinearTaps(inSize: inH, outSize: outH, scale: scaleH)
    let columns = LinearTaps(inSize: inW, outSize: outW, scale: scaleW)
    let outPlane = outH * outW
    x.withUnsafeFloats { inBuffer in
        result.withUnsafeMutableFloats { outBuffer in
            let box = UncheckedSendable((inBuffer.baseAddress!, outBuffer.baseAddress!, rows, columns))
            // Whole planes per chunk; at least ~16K outputs so small resizes stay on one thread.
            Parallel.forEachChunk(count: planes, minimumChunk: max(1, 16384 / max(1, outPlane))) { range in
                let (src, dst, rows, columns) = box.value
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * outW)
                defer { scratch.deallocate() }
                mg_bilinear_planes(
                    src + range.lowerBound * inH * inW, dst + range.lowerBound * outPlane, range.count, inH, inW,
                    outH, outW, rows.first, rows.second, rows.firstWeight, rows.secondWeight, columns.first,
                    columns.second, columns.firstWeight, columns.secondWeight, scratch)
            }
        }
    }
    return result
}
