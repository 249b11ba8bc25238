import CMGKernels

/// 2-D convolution like `torch.nn.functional.conv2d` (dilation 1), on NCHW tensors.
///
/// Three paths, chosen from the geometry:
/// - depthwise (`groups == C == O`, e.g. ConvNeXt's 7×7 blocks): a direct vectorised kernel,
///   parallel over channels;
/// - 1×1 with stride 1 and no padding: one GEMM per image and group on the input as it is;
/// - everything else: im2col + GEMM per group, in bounded chunks of output rows. Non-overlapping
///   patch convolutions (stride == kernel, no padding: CLIP's 14×14/14 patch embedding, ConvNeXt's
///   4×4/4 stem and 2×2/2 downsampling) make im2col a pure permutation of the input, so they cost
///   one copy plus the GEMM.
///
/// - Parameters:
///   - input: `[N, C, H, W]`, any float dtype.
///   - weight: `[O, C / groups, kh, kw]` (PyTorch layout) in F32, F16 or BF16.
///   - bias: optional `[O]`.
///   - stride: `(sh, sw)`, both positive.
///   - padding: zero padding `(ph, pw)` on each side, both non-negative.
///   - groups: channel groups; `C` and `O` must be multiples of it.
/// - Returns: `[N, O, (H + 2ph − kh) / sh + 1, (W + 2pw − kw) / sw + 1]` in F32.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for wrong ranks, non-positive
///   stride or groups, negative padding or a kernel larger than the padded input;
///   ``TensorError/shapeMismatch(operation:_:_:)`` when channels, groups, weight or bias disagree;
///   ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func conv2d(
    _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
    padding: (Int, Int) = (0, 0), groups: Int = 1
) throws(TensorError) -> Tensor {
    let geometry = try ConvGeometry(
        input: input.shape, weight: weight.shape, bias: bias?.shape, stride: stride, padding: padding, groups: groups)
    guard weight.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: "conv2d", weight.dtype) }
    let x = try input.asFloat32()
    let w = try weight.asFloat32()
    let b = try bias?.asFloat32()
    var result = Tensor(uninitializedShape: geometry.outputShape)
    if result.count == 0 { return result }
    try checkBLASDimensions(
        [geometry.outChannels, geometry.outPlane, geometry.reductionSize], operation: "conv2d")

    x.withUnsafeFloats { xBuffer in
        w.withUnsafeFloats { wBuffer in
            result.withUnsafeMutableFloats { outBuffer in
                let pointers = ConvPointers(
                    input: xBuffer.baseAddress!, weight: wBuffer.baseAddress!,
                    bias: b.map { $0.storage.base.assumingMemoryBound(to: Float.self) },
                    output: outBuffer.baseAddress!)
                if geometry.reductionSize == 0 {
                    // No input channels: every output is its bias (or zero).
                    for image in 0..<geometry.batch {
                        mg_fill_rows_with_scalars(
                            pointers.bias, pointers.output + image * geometry.outChannels * geometry.outPlane,
                            geometry.outChannels, geometry.outPlane, geometry.outPlane)
                    }
                } else if geometry.isDepthwise {
                    depthwiseConv(pointers, geometry)
                } else {
                    gemmConv(pointers, geometry)
                }
            }
        }
    }
    return result
}

/// Validated sizes of one convolution.
struct ConvGeometry {
    let batch, channels, height, width: Int
    let outChannels, kernelH, kernelW: Int
    let strideH, strideW, padH, padW, groups: Int
    let outH, outW: Int

    var outputShape: [Int] { [batch, outChannels, outH, outW] }
    var outPlane: Int { outH * outW }
    var inPlane: Int { height * width }
    var groupChannels: Int { channels / groups }
    var groupOutChannels: Int { outChannels / groups }
    /// Length of one output value's dot product: (C / groups)·kh·kw.
    var reductionSize: Int { groupChannels * kernelH * kernelW }
    var isDepthwise: Bool { groups > 1 && groups == channels && outChannels == channels }
    var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0
    }

    init(input: [Int], weight: [Int], bias: [Int]?, stride: (Int, Int), padding: (Int, Int), groups: Int)
        throws(TensorError)
    {
        let op = "conv2d"
        guard input.count == 4 else { throw .invalidArgument(operation: op, reason: "input must be [N, C, H, W], got \(input)") }
        guard weight.count == 4 else {
            throw .invalidArgument(operation: op, reason: "weight must be [O, C/groups, kh, kw], got \(weight)")
        }
        guard stride.0 > 0, stride.1 > 0 else {
            throw .invalidArgument(operation: op, reason: "stride must be positive, got \(stride)")
        }
        guard padding.0 >= 0, padding.1 >= 0 else {
            throw .invalidArgument(operation: op, reason: "padding must be non-negative, got \(padding)")
        }
        guard groups > 0 else { throw .invalidArgument(operation: op, reason: "groups must be positive, got \(groups)") }
        (batch, channels, height, width) = (input[0], input[1], input[2], input[3])
        (outChannels, kernelH, kernelW) = (weight[0], weight[2], weight[3])
        guard channels % groups == 0, outChannels % groups == 0, weight[1] * groups == channels else {
            throw .shapeMismatch(operation: "conv2d (channels/groups)", input, weight)
        }
        if let bias, bias != [outChannels] { throw .shapeMismatch(operation: "conv2d bias", bias, [outChannels]) }
        guard kernelH > 0, kernelW > 0 else { throw .invalidArgument(operation: op, reason: "empty kernel \(weight)") }
        let paddedH = height + 2 * padding.0, paddedW = width + 2 * padding.1
        guard kernelH <= paddedH, kernelW <= paddedW else {
            throw .invalidArgument(
                operation: op, reason: "kernel \(kernelH)×\(kernelW) is larger than the padded input \(paddedH)×\(paddedW)")
        }
        (strideH, strideW, padH, padW, self.groups) = (stride.0, stride.1, padding.0, padding.1, groups)
        outH = (paddedH - kernelH) / strideH + 1
        outW = (paddedW - kernelW) / strideW + 1
        guard Shape.elementCount([batch, outChannels, outH, outW]) != nil else {
            throw .invalidShape([batch, outChannels, outH, outW])
        }
    }

    var cGeometry: mg_conv_geometry {
        mg_conv_geometry(
            height: height, width: width, kernel_h: kernelH, kernel_w: kernelW, stride_h: strideH,
            stride_w: strideW, pad_h: padH, pad_w: padW, out_h: outH, out_w: outW)
    }
}

private struct ConvPointers {
    let input: UnsafePointer<Float>
    let weight: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let output: UnsafeMutablePointer<Float>
}

/// Direct depthwise kernel, parallel over channels (each chunk owns its padded-plane scratch).
private func depthwiseConv(_ p: ConvPointers, _ g: ConvGeometry) {
    var cg = g.cGeometry
    let scratchFloats = mg_depthwise_scratch_floats(&cg)
    let box = UncheckedSendable(p)
    let kernelSize = g.kernelH * g.kernelW
    // Two or more channels per chunk: each plane of real models is 10K+ outputs.
    let minimumChunk = max(1, 8192 / max(1, g.outPlane * kernelSize))
    for image in 0..<g.batch {
        Parallel.forEachChunk(count: g.channels, minimumChunk: minimumChunk) { range in
            let p = box.value
            var geometry = g.cGeometry
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchFloats)
            defer { scratch.deallocate() }
            let planeOffset = image * g.channels + range.lowerBound
            mg_depthwise_conv2d(
                p.input + planeOffset * g.inPlane, p.weight + range.lowerBound * kernelSize,
                p.bias.map { $0 + range.lowerBound }, p.output + planeOffset * g.outPlane,
                range.count, &geometry, scratch)
        }
    }
}

/// Column-buffer budget in floats (32 MB); larger problems are processed in chunks of output rows.
private let columnBudget = 8 << 20

/// GEMM per image and group: out[g] (Og × P) = W[g] (Og × K) · cols (K × P), with the bias
/// pre-filled into the output so the GEMM accumulates onto it.
private func gemmConv(_ p: ConvPointers, _ g: ConvGeometry) {
    let k = g.reductionSize, og = g.groupOutChannels, plane = g.outPlane
    let rowsPerChunk = g.isPointwise ? g.outH : max(1, min(g.outH, columnBudget / max(1, k * g.outW)))
    let columns = g.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * rowsPerChunk * g.outW)
    defer { columns?.deallocate() }
    let beta: Float = p.bias == nil ? 0 : 1
    for image in 0..<g.batch {
        let out = p.output + image * g.outChannels * plane
        if let bias = p.bias { mg_fill_rows_with_scalars(bias, out, g.outChannels, plane, plane) }
        for group in 0..<g.groups {
            let groupInput = p.input + (image * g.channels + group * g.groupChannels) * g.inPlane
            let groupWeight = p.weight + group * og * k
            let groupOut = out + group * og * plane
            guard let columns else {
                sgemmRowMajor(
                    m: og, n: plane, k: k, a: groupWeight, b: groupInput, transposeB: false, beta: beta, c: groupOut)
                continue
            }
            var row = 0
            while row < g.outH {
                let rows = min(rowsPerChunk, g.outH - row)
                fillColumns(columns, input: groupInput, geometry: g, rows: row..<row + rows)
                sgemmRowMajor(
                    m: og, n: rows * g.outW, k: k, a: groupWeight, b: columns, transposeB: false, beta: beta,
                    c: groupOut + row * g.outW, ldc: plane)
                row += rows
            }
        }
    }
}

/// im2col of output rows `rows`, split over the cores by column-matrix rows.
private func fillColumns(_ columns: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, geometry g: ConvGeometry, rows: Range<Int>) {
    let ld = rows.count * g.outW
    let box = UncheckedSendable((columns, input))
    Parallel.forEachChunk(count: g.reductionSize, minimumChunk: max(1, 16384 / max(1, ld))) { kRange in
        let (columns, input) = box.value
        var geometry = g.cGeometry
        mg_im2col(
            input, columns + kRange.lowerBound * ld, ld, &geometry, kRange.lowerBound, kRange.upperBound,
            rows.lowerBound, rows.upperBound)
    }
}
