import CMGKernels

// LayerNorm (channels-last and channels-first) and RMSNorm. Statistics are computed per row in
// float32 with a two-pass (mean, then centred squares) variance; weights may be F16/BF16.

/// Layer normalisation over the last axis, as `torch.nn.functional.layer_norm(x, [C], weight, bias, eps)`:
/// `(x − mean) / √(var + eps) · weight + bias` with the biased variance.
/// - Parameters:
///   - x: `[..., C]`, any float dtype.
///   - weight: optional `[C]` scale; `nil` means 1.
///   - bias: optional `[C]` shift; `nil` means 0.
///   - eps: added to the variance (PyTorch's default is 1e-5; CLIP uses 1e-5, ConvNeXt 1e-6).
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for a scalar input,
///   ``TensorError/shapeMismatch(operation:_:_:)`` when weight or bias is not `[C]`.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) throws(TensorError) -> Tensor {
    try normalizingRows(x, operation: "layerNorm", weight: weight, bias: bias) { src, wp, bp, dst, rows, features in
        mg_layer_norm_rows(src, wp, bp, dst, rows, features, eps)
    }
}

/// Channels-first layer normalisation of an `[N, C, ...spatial]` tensor: every pixel is normalised
/// over the channel axis, as timm/ConvNeXt's `LayerNorm2d` (which permutes to channels-last, calls
/// `layer_norm` and permutes back). No permute happens here: statistics are accumulated channel by
/// channel over contiguous blocks of pixels.
/// - Parameters:
///   - x: `[N, C, H, W]` (any rank ≥ 2; axes after C are flattened into pixels).
///   - weight: optional `[C]`.
///   - bias: optional `[C]`.
///   - eps: added to the variance (ConvNeXt uses 1e-6).
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for rank < 2,
///   ``TensorError/shapeMismatch(operation:_:_:)`` when weight or bias is not `[C]`.
public func layerNorm2d(_ x: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-6) throws(TensorError) -> Tensor {
    guard x.rank >= 2 else { throw .invalidArgument(operation: "layerNorm2d", reason: "input must be [N, C, ...], got \(x.shape)") }
    let batch = x.shape[0], channels = x.shape[1]
    let plane = x.shape[2...].reduce(1, *)
    let w = try Pointwise.parameter(weight, count: channels, operation: "layerNorm2d weight")
    let b = try Pointwise.parameter(bias, count: channels, operation: "layerNorm2d bias")
    let input = try x.asFloat32()
    var result = Tensor(uninitializedShape: x.shape)
    if result.count == 0 { return result }
    // Work units are blocks of pixels of one image, so a single large image still uses every core.
    let block = Int(MG_LAYER_NORM_CHANNELS_BLOCK)
    let blocksPerImage = (plane + block - 1) / block
    input.withUnsafeFloats { source in
        result.withUnsafeMutableFloats { destination in
            let src = source.baseAddress!, dst = destination.baseAddress!
            withOptionalPointers(w, b) { wp, bp in
                Parallel.forEachChunk(count: batch * blocksPerImage, minimumChunk: max(1, 16384 / (block * channels))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: channels * Int(MG_LAYER_NORM_CHANNELS_BLOCK))
                    defer { scratch.deallocate() }
                    for unit in range {
                        let image = unit / blocksPerImage, first = (unit % blocksPerImage) * block
                        let offset = image * channels * plane
                        mg_layer_norm_channels(
                            src + offset, wp, bp, dst + offset, channels, plane, first, min(plane, first + block), eps,
                            scratch)
                    }
                }
            }
        }
    }
    return result
}

/// RMS normalisation over the last axis, as Hugging Face's LLaMA/Gemma `RMSNorm` in float32:
/// `x · rsqrt(mean(x²) + eps)`, then `· weight` or, with `addUnitOffset` (Gemma), `· (1 + weight)`.
/// - Parameters:
///   - x: `[..., C]`, any float dtype.
///   - weight: optional `[C]`; `nil` skips the scale.
///   - eps: added to the mean square (Gemma uses 1e-6).
///   - addUnitOffset: multiply by `1 + weight` instead of `weight` (Gemma's parameterisation).
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for a scalar input,
///   ``TensorError/shapeMismatch(operation:_:_:)`` when weight is not `[C]`.
public func rmsNorm(_ x: Tensor, weight: Tensor?, eps: Float = 1e-6, addUnitOffset: Bool = false) throws(TensorError) -> Tensor {
    try normalizingRows(x, operation: "rmsNorm", weight: weight, bias: nil) { src, wp, _, dst, rows, features in
        mg_rms_norm_rows(src, wp, dst, rows, features, eps, addUnitOffset ? 1 : 0)
    }
}

/// The shared frame of the last-axis norms: checks and converts the `[C]` weight and bias, then
/// runs `kernel` over chunks of rows on both cores (`kernel(source, weight, bias, destination,
/// rows, features)`, pointers already offset to the chunk).
private func normalizingRows(
    _ x: Tensor, operation: String, weight: Tensor?, bias: Tensor?,
    kernel: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>, Int, Int) -> Void
) throws(TensorError) -> Tensor {
    guard x.rank >= 1 else { throw .invalidArgument(operation: operation, reason: "input must have rank >= 1") }
    let features = x.shape[x.rank - 1]
    let w = try floatParameter(weight, count: features, operation: operation, role: "weight")
    let b = try floatParameter(bias, count: features, operation: operation, role: "bias")
    let input = try x.asFloat32()
    var result = Tensor(uninitializedShape: x.shape)
    if result.count == 0 { return result }
    let rows = x.count / features
    input.withUnsafeFloats { source in
        result.withUnsafeMutableFloats { destination in
            let src = source.baseAddress!, dst = destination.baseAddress!
            withOptionalPointers(w, b) { wp, bp in
                Parallel.forEachChunk(count: rows, minimumChunk: max(1, 8192 / features)) { range in
                    let offset = range.lowerBound * features
                    kernel(src + offset, wp, bp, dst + offset, range.count, features)
                }
            }
        }
    }
    return result
}

/// A `[count]` weight or bias as an F32 tensor, checked as ``Pointwise/parameter(_:count:operation:)``
/// checks it, without copying an F32 one into an array: a decode step normalises one row twice per
/// layer, where that copy and the interpolated operation name cost more than the norm itself.
private func floatParameter(_ tensor: Tensor?, count: Int, operation: String, role: String) throws(TensorError) -> Tensor? {
    guard let tensor else { return nil }
    guard tensor.count == count, tensor.rank == 1 else { throw .shapeMismatch(operation: "\(operation) \(role)", tensor.shape, [count]) }
    guard tensor.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: "\(operation) \(role)", tensor.dtype) }
    return try tensor.asFloat32()
}

/// Calls `body` with pointers to the optional tensors' F32 elements (`nil` for absent ones).
private func withOptionalPointers(
    _ a: Tensor?, _ b: Tensor?, _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void
) {
    func withPointer(_ tensor: Tensor?, _ inner: (UnsafePointer<Float>?) -> Void) {
        guard let tensor else { return inner(nil) }
        tensor.withUnsafeFloats { inner($0.baseAddress) }
    }
    withPointer(a) { ap in withPointer(b) { bp in body(ap, bp) } }
}

/// Calls `body` with pointers to the optional arrays' elements (`nil` for absent arrays).
private func withOptionalPointers(
    _ a: [Float]?, _ b: [Float]?, _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> Void
) {
    func withPointer(_ array: [Float]?, _ inner: (UnsafePointer<Float>?) -> Void) {
        guard let array else { return inner(nil) }
        array.withUnsafeBufferPointer { inner($0.baseAddress) }
    }
    withPointer(a) { ap in withPointer(b) { bp in body(ap, bp) } }
}
