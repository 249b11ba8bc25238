import CMGKernels
import MGTensor

// The pieces of timm's ConvNeXt (timm/models/convnext.py: the `stem` Sequential, ConvNeXtStage,
// ConvNeXtBlock with conv_mlp=False) in inference mode. Activations stay NCHW throughout; each
// block's MLP runs channel-major on [C, pixels] columns (see ConvNeXtBlock).

/// Called after each part of the tower with the part's name (``ConvNeXtTower/stageOutputs(_:mark:)``):
/// the benchmark's per-part breakdown reads a clock there.
package typealias PartMark = (String) -> Void

/// `stem`: Conv2d(3→C0, k=s=4, bias) → LayerNorm2d(C0).
struct ConvNeXtStem: Sendable {
    let convWeight: Tensor  // [C0, 3, 4, 4]
    let convBias: Tensor  // [C0]
    let normWeight, normBias: Tensor  // [C0]
    let patchSize: Int
    let eps: Float

    init(reader: WeightReader<VisionError>, prefix: String, configuration: ConvNeXtConfiguration) throws(VisionError) {
        let c = configuration.widths[0], p = configuration.stemPatchSize
        convWeight = try reader.take(prefix + "0.weight", shape: [c, configuration.inputChannels, p, p])
        convBias = try reader.take(prefix + "0.bias", shape: [c])
        normWeight = try reader.take(prefix + "1.weight", shape: [c])
        normBias = try reader.take(prefix + "1.bias", shape: [c])
        patchSize = p
        eps = configuration.normEpsilon
    }

    func callAsFunction(_ pixels: Tensor) throws(TensorError) -> Tensor {
        let patches = try conv2d(pixels, weight: convWeight, bias: convBias, stride: (patchSize, patchSize))
        return try layerNorm2d(patches, weight: normWeight, bias: normBias, eps: eps)
    }
}

/// `stages.{s}`: for s > 0 a downsample LayerNorm2d(C_{s−1}) → Conv2d(C_{s−1}→C_s, k=s=2, bias),
/// then the blocks.
struct ConvNeXtStage: Sendable {
    let downsample: (normWeight: Tensor, normBias: Tensor, convWeight: Tensor, convBias: Tensor)?
    let blocks: [ConvNeXtBlock]
    let eps: Float

    init(
        reader: WeightReader<VisionError>, prefix: String, index: Int, configuration: ConvNeXtConfiguration, mlpChunkFloats: Int,
        precision: VisionPrecision = .float32
    ) throws(VisionError) {
        let c = configuration.widths[index]
        eps = configuration.normEpsilon
        // timm gives stage 0 stride 1 and equal widths, hence an Identity downsample without tensors.
        if index > 0 {
            let previous = configuration.widths[index - 1]
            downsample = (
                try reader.take(prefix + "downsample.0.weight", shape: [previous]),
                try reader.take(prefix + "downsample.0.bias", shape: [previous]),
                try reader.take(prefix + "downsample.1.weight", shape: [c, previous, 2, 2]),
                try reader.take(prefix + "downsample.1.bias", shape: [c])
            )
        } else {
            downsample = nil
        }
        var blocks = [ConvNeXtBlock]()
        for block in 0..<configuration.depths[index] {
            blocks.append(
                try ConvNeXtBlock(
                    reader: reader, prefix: prefix + "blocks.\(block).", width: c, configuration: configuration,
                    mlpChunkFloats: mlpChunkFloats, precision: precision))
        }
        self.blocks = blocks
    }

    /// Runs the stage on `x` (`[N, C_{s−1}, H, W]` → `[N, C_s, H/2, W/2]`, or same size for s = 0).
    func callAsFunction(_ x: inout Tensor, mark: PartMark? = nil) throws(TensorError) {
        if let downsample {
            let normed = try layerNorm2d(x, weight: downsample.normWeight, bias: downsample.normBias, eps: eps)
            mark?("downsample LayerNorm2d")
            x = try conv2d(normed, weight: downsample.convWeight, bias: downsample.convBias, stride: (2, 2))
            mark?("downsample 2×2 conv")
        }
        for block in blocks {
            try block(&x, mark: mark)
        }
    }
}

/// `ConvNeXtBlock`: `x + gamma · fc2(gelu(fc1(LN(dwconv7x7(x)))))`.
///
/// PyTorch permutes to NHWC for the LayerNorm and the MLP and back. Here the MLP runs
/// channel-major instead: with each image's pixels as columns, fc1 and fc2 are `W·X` products on
/// the NCHW data as it is (`[4C, C]·[C, P]`), so the block needs no permute at all, the LayerNorm is
/// the channels-first kernel, and fc2 writes the residual branch directly in NCHW. OpenBLAS also
/// runs these products faster than the row-major `X·Wᵀ` at the early stages (stage 0 fc1 at 768:
/// 76 ms against 101 ms).
struct ConvNeXtBlock: Sendable {
    let depthwiseWeight: Tensor  // [C, 1, k, k]
    let depthwiseBias: Tensor  // [C]
    let normWeight, normBias: Tensor  // [C]
    let fc1Weight: Tensor  // [4C, C] (an empty placeholder when packed)
    let fc1Bias: Tensor  // [4C, 1], a column broadcast over pixels
    let fc1Bias1D: Tensor  // [4C], the same values for the packed product
    let fc2Weight: Tensor  // [C, 4C], with gamma folded in when the checkpoint is F32 (empty when packed)
    let gamma: Tensor?  // [C, 1] when not folded (16-bit weights stay in their stored dtype)
    let residualBias: Tensor  // [C, 1, 1]: gamma ⊙ fc2.bias
    /// fc1 and fc2 (gamma folded) split into bf16 hi/lo tiles for the AMX product, when the CPU has
    /// AMX and the checkpoint is F32 (near-F32 accuracy, 2–4× `sgemm`'s speed; see SplitBF16Matrix).
    let fc1Packed, fc2Packed: SplitBF16Matrix?
    let kernelSize: Int
    let eps: Float
    /// Upper bound on the hidden activations (`[N, 4C, columns]` floats) of one MLP chunk.
    let mlpChunkFloats: Int
    /// ``VisionPrecision/bfloat16``: fc1 and fc2 (gamma folded) are bf16 `[out, in]` weights and the
    /// MLP runs pixel-major (see ``fusedBF16MLP(_:adding:mark:)``).
    let precision: VisionPrecision

    init(
        reader: WeightReader<VisionError>, prefix: String, width c: Int, configuration: ConvNeXtConfiguration, mlpChunkFloats: Int,
        precision: VisionPrecision = .float32
    ) throws(VisionError) {
        let k = configuration.depthwiseKernelSize, hidden = configuration.mlpRatio * c
        depthwiseWeight = try reader.take(prefix + "conv_dw.weight", shape: [c, 1, k, k])
        depthwiseBias = try reader.take(prefix + "conv_dw.bias", shape: [c])
        normWeight = try reader.take(prefix + "norm.weight", shape: [c])
        normBias = try reader.take(prefix + "norm.bias", shape: [c])
        let pointwise = configuration.convolutionalMLP ? [1, 1] : []
        let weight1 = try reader.take(prefix + "mlp.fc1.weight", shape: [hidden, c] + pointwise).reshapedOrThrow([hidden, c])
        fc1Bias1D = try reader.take(prefix + "mlp.fc1.bias", shape: [hidden])
        fc1Bias = try fc1Bias1D.reshapedOrThrow([hidden, 1])
        let weight2 = try reader.take(prefix + "mlp.fc2.weight", shape: [c, hidden] + pointwise).reshapedOrThrow([c, hidden])
        let bias2 = try reader.take(prefix + "mlp.fc2.bias", shape: [c])
        let scale = try reader.take(prefix + "gamma", shape: [c]).reshapedOrThrow([c, 1])
        residualBias = try tensorOp(VisionError.tensor) { () throws(TensorError) in try mul(bias2, scale.reshaped([c])).reshaped([c, 1, 1]) }
        // A packed weight replaces its F32 tensor (the packed copy is as large), so only one is kept.
        let placeholder = try tensorOp(VisionError.tensor) { () throws(TensorError) in try Tensor.zeros([0, 0]) }
        self.precision = precision
        if precision == .bfloat16 {
            // gamma folded in F32 before the single rounding to bf16.
            let folded = try tensorOp(VisionError.tensor) { () throws(TensorError) in try mul(weight2.asFloat32(), scale) }
            fc1Weight = try precision.productWeight(weight1)
            fc2Weight = try precision.productWeight(folded)
            // As below: the bf16 copies are what runs, the mapped originals need not stay resident.
            weight2.storage.releaseResidentPages()
            if fc1Weight.storage !== weight1.storage { weight1.storage.releaseResidentPages() }
            gamma = nil
            (fc1Packed, fc2Packed) = (nil, nil)
        } else if weight2.dtype == .f32 {
            // gamma·(W·h) = (gamma ⊙ rows of W)·h: one pass over the block output saved.
            let folded = try tensorOp(VisionError.tensor) { () throws(TensorError) in try mul(weight2, scale) }
            gamma = nil
            fc1Packed = weight1.dtype == .f32 ? SplitBF16Matrix(weight1) : nil
            fc2Packed = SplitBF16Matrix(folded)
            fc1Weight = fc1Packed == nil ? weight1 : placeholder
            fc2Weight = fc2Packed == nil ? folded : placeholder
            // Only the folded (or packed) copies are read from now on: drop the mapped originals from
            // the resident set, so an F32 tower is not resident twice.
            weight2.storage.releaseResidentPages()
            if fc1Packed != nil { weight1.storage.releaseResidentPages() }
        } else {
            (fc1Weight, fc2Weight, gamma) = (weight1, weight2, scale)
            (fc1Packed, fc2Packed) = (nil, nil)
        }
        kernelSize = k
        eps = configuration.normEpsilon
        self.mlpChunkFloats = mlpChunkFloats
    }

    /// Updates `x` (`[N, C, H, W]`) in place: `x += block(x)`.
    func callAsFunction(_ x: inout Tensor, mark: PartMark? = nil) throws(TensorError) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pad = kernelSize / 2
        let spatial = try conv2d(x, weight: depthwiseWeight, bias: depthwiseBias, padding: (pad, pad), groups: c)
        mark?("block depthwise 7×7")
        if precision == .bfloat16 {
            try addInPlace(&x, residualBias)
            mark?("block residual bias")
            // The LayerNorm runs as the MLP gathers its pixel rows (no normalised map in between).
            try fusedBF16MLP(spatial, adding: &x, mark: mark)
            return
        }
        let normed = try layerNorm2d(spatial, weight: normWeight, bias: normBias, eps: eps).reshaped([n, c, h * w])
        mark?("block LayerNorm2d")

        // Large maps run the MLP on a few equal chunks of columns, so the hidden activations stay
        // under glibc's 32 MB mmap ceiling: reused from the heap instead of a fresh zero-filled
        // mapping per block (113 MB per product at stage 0 of a 768×768 input). At 768 that is
        // 4 chunks in stage 0, 2 in stage 1 and none after.
        let pixels = h * w, hidden = fc1Bias1D.shape[0]
        if usesFusedExactMLP {
            try addInPlace(&x, residualBias)
            mark?("block residual bias")
            try fusedExactMLP(normed, adding: &x, mark: mark)
            return
        }
        let chunks = max(1, (n * pixels * hidden + mlpChunkFloats - 1) / mlpChunkFloats)
        var mixed: Tensor  // [N, C, P]
        if chunks == 1 {
            mixed = try mlp(normed)
        } else {
            let columns = (pixels + chunks - 1) / chunks
            var pieces = [Tensor]()
            for start in stride(from: 0, to: pixels, by: columns) {
                pieces.append(try mlp(slice(normed, axis: 2, range: start..<min(pixels, start + columns))))
            }
            mixed = try concat(pieces, axis: 2)
        }
        mark?("block MLP (unfused path)")
        if let gamma { try mulInPlace(&mixed, gamma) }
        try addInPlace(&x, mixed.reshaped([n, c, h, w]))
        try addInPlace(&x, residualBias)
        mark?("block residual (unfused path)")
    }

    /// The exact path with F32 weights on `sgemm` (no AMX packing): ``fusedExactMLP(_:adding:mark:)``.
    private var usesFusedExactMLP: Bool {
        precision == .float32 && fc1Packed == nil && fc2Packed == nil && gamma == nil && fc1Weight.dtype == .f32
            && fc2Weight.dtype == .f32 && fc1Bias1D.dtype == .f32
    }

    /// `x += fc2'(gelu(fc1(normed)))` (fc2' with gamma folded, no bias) on `sgemm`, with no tensor
    /// between the products: per chunk of pixel columns, fc1 reads the chunk of `normed` in place
    /// (`ldb` = pixels) into one reused hidden block, the bias and GELU run in one pass over it
    /// (``mg_bias_gelu_rows``), and fc2 accumulates into the residual stream (`beta = 1`, `ldc` =
    /// pixels). This replaces the column slices and their concatenation, the separate bias add, GELU
    /// output, fc2 output and residual add of the unfused path (one read and write of `[C, P]` or
    /// `[4C, P]` floats each). Chunks keep the hidden block under `mlpChunkFloats`.
    private func fusedExactMLP(_ normed: Tensor, adding x: inout Tensor, mark: PartMark?) throws(TensorError) {
        let (n, c) = (x.shape[0], x.shape[1]), pixels = x.count / max(1, n * c), hidden = fc1Bias1D.shape[0]
        let chunks = max(1, (pixels * hidden + mlpChunkFloats - 1) / mlpChunkFloats)
        let columns = (pixels + chunks - 1) / chunks
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: hidden * columns)
        defer { scratch.deallocate() }
        let input = try normed.asFloat32()
        input.withUnsafeFloats { normedBuffer in
            fc1Weight.withUnsafeFloats { w1 in
                fc2Weight.withUnsafeFloats { w2 in
                    fc1Bias1D.withUnsafeFloats { bias in
                        x.withUnsafeMutableFloats { xBuffer in
                            let (w1, w2, bias) = (w1.baseAddress!, w2.baseAddress!, bias.baseAddress!)
                            for image in 0..<n {
                                let source = normedBuffer.baseAddress! + image * c * pixels
                                let target = xBuffer.baseAddress! + image * c * pixels
                                for start in stride(from: 0, to: pixels, by: columns) {
                                    let width = min(columns, pixels - start)
                                    sgemmRowMajor(
                                        m: hidden, n: width, k: c, a: w1, b: source + start, ldb: pixels, transposeB: false,
                                        c: scratch, ldc: width)
                                    mark?("block fc1 sgemm")
                                    // ~16K outputs per piece at least; GELU is ~20 flops per value.
                                    Parallel.forEachChunk(count: hidden, minimumChunk: max(1, 16_384 / width)) { rows in
                                        mg_bias_gelu_rows(scratch + rows.lowerBound * width, bias + rows.lowerBound, rows.count, width, width)
                                    }
                                    mark?("block bias + GELU")
                                    sgemmRowMajor(
                                        m: c, n: width, k: hidden, a: w2, b: scratch, transposeB: false, beta: 1, c: target + start,
                                        ldc: pixels)
                                    mark?("block fc2 sgemm (+ residual)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `x += fc2'(gelu(fc1(LayerNorm2d(spatial))))` in the bf16 mode: the packed bf16 kernels multiply
    /// pixel rows, so per chunk of columns the chunk is normalised straight into `[p, C]` rows
    /// (``mg_layer_norm_channels_to_rows``, the LayerNorm2d arithmetic fused with the gather), fc1
    /// (with its bias) and fc2 run on the rows with GELU in place between them, and fc2's rows are
    /// added into the channel-major residual stream (``mg_add_rows_to_columns``): no normalised map,
    /// column slices, concatenation, transposed copies of the output or separate residual pass.
    private func fusedBF16MLP(_ spatial: Tensor, adding x: inout Tensor, mark: PartMark?) throws(TensorError) {
        let (n, c) = (x.shape[0], x.shape[1]), pixels = x.count / max(1, n * c), hidden = fc1Bias1D.shape[0]
        let chunks = max(1, (pixels * hidden + mlpChunkFloats - 1) / mlpChunkFloats)
        let columns = (pixels + chunks - 1) / chunks
        let input = try spatial.asFloat32(), weight = try normWeight.asFloat32(), bias = try normBias.asFloat32()
        let block = Int(MG_LAYER_NORM_CHANNELS_BLOCK), eps = self.eps
        for image in 0..<n {
            for start in stride(from: 0, to: pixels, by: columns) {
                let width = min(columns, pixels - start)
                var rows = Tensor(uninitializedShape: [width, c])
                input.withUnsafeFloats { spatialBuffer in
                    weight.withUnsafeFloats { w in
                        bias.withUnsafeFloats { b in
                            rows.withUnsafeMutableFloats { rowBuffer in
                                let (source, target) = (spatialBuffer.baseAddress! + image * c * pixels, rowBuffer.baseAddress!)
                                let (w, b) = (w.baseAddress!, b.baseAddress!)
                                // Whole LayerNorm blocks per piece (the kernel's scratch is one block).
                                let blocks = (width + block - 1) / block
                                Parallel.forEachChunk(count: blocks, minimumChunk: max(1, 16_384 / (block * c))) { range in
                                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: c * block)
                                    defer { scratch.deallocate() }
                                    let first = range.lowerBound * block, end = min(width, range.upperBound * block)
                                    mg_layer_norm_channels_to_rows(
                                        source, w, b, target + first * c, c, pixels, start + first, start + end, eps, scratch)
                                }
                            }
                        }
                    }
                }
                mark?("block LayerNorm2d into pixel rows (bf16 mode)")
                var expanded = try linear(rows, weight: fc1Weight, bias: fc1Bias1D, precision: .bfloat16Activations)
                mark?("block fc1 bf16")
                expanded.withUnsafeMutableFloats { buffer in
                    let base = buffer.baseAddress!
                    Parallel.forEachChunk(count: width, minimumChunk: max(1, 16_384 / hidden)) { range in
                        mg_bias_gelu_rows(base + range.lowerBound * hidden, nil, range.count, hidden, hidden)
                    }
                }
                mark?("block GELU")
                let mixed = try linear(expanded, weight: fc2Weight, precision: .bfloat16Activations)  // [p, C]
                mark?("block fc2 bf16")
                mixed.withUnsafeFloats { mixedBuffer in
                    x.withUnsafeMutableFloats { xBuffer in
                        let (source, target) = (mixedBuffer.baseAddress!, xBuffer.baseAddress! + image * c * pixels + start)
                        Parallel.forEachChunk(count: c, minimumChunk: max(16, 16_384 / width)) { range in
                            mg_add_rows_to_columns(source, c, width, range.lowerBound, range.count, target, pixels)
                        }
                    }
                }
                mark?("block add rows to the residual (bf16 mode)")
            }
        }
    }

    /// `fc2(gelu(fc1(columns)))` on `[N, C, p]` pixel columns, without the fc2 bias.
    private func mlp(_ columns: Tensor) throws(TensorError) -> Tensor {
        // Each weight is packed when its reduction length allows (tiny widths may leave fc1 out).
        var expanded: Tensor  // [N, 4C, p]
        if let fc1Packed {
            expanded = try matmul(fc1Packed, columns, rowBias: fc1Bias1D)
        } else {
            expanded = try matmul(fc1Weight, columns)
            try addInPlace(&expanded, fc1Bias)
        }
        if let fc2Packed { return try matmul(fc2Packed, gelu(expanded)) }
        return try matmul(fc2Weight, gelu(expanded))  // [N, C, p]
    }
}
