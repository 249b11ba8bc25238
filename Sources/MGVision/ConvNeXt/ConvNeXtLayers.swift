import MGTensor

// The pieces of timm's ConvNeXt (timm/models/convnext.py: the `stem` Sequential, ConvNeXtStage,
// ConvNeXtBlock with conv_mlp=False) in inference mode. Activations are NCHW between blocks, as in
// PyTorch; each block's MLP runs channels-last on [pixels, C] rows.

/// `stem`: Conv2d(3→C0, k=s=4, bias) → LayerNorm2d(C0).
struct ConvNeXtStem: Sendable {
    let convWeight: Tensor  // [C0, 3, 4, 4]
    let convBias: Tensor  // [C0]
    let normWeight, normBias: Tensor  // [C0]
    let patchSize: Int
    let eps: Float

    init(reader: TowerWeightReader, prefix: String, configuration: ConvNeXtConfiguration) throws(VisionTowerError) {
        let c = configuration.widths[0], p = configuration.stemPatchSize
        convWeight = try reader.tensor(prefix + "0.weight", shape: [c, configuration.inputChannels, p, p])
        convBias = try reader.tensor(prefix + "0.bias", shape: [c])
        normWeight = try reader.tensor(prefix + "1.weight", shape: [c])
        normBias = try reader.tensor(prefix + "1.bias", shape: [c])
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
        reader: TowerWeightReader, prefix: String, index: Int, configuration: ConvNeXtConfiguration, mlpChunkFloats: Int
    ) throws(VisionTowerError) {
        let c = configuration.widths[index]
        eps = configuration.normEpsilon
        // timm gives stage 0 stride 1 and equal widths, hence an Identity downsample without tensors.
        if index > 0 {
            let previous = configuration.widths[index - 1]
            downsample = (
                try reader.tensor(prefix + "downsample.0.weight", shape: [previous]),
                try reader.tensor(prefix + "downsample.0.bias", shape: [previous]),
                try reader.tensor(prefix + "downsample.1.weight", shape: [c, previous, 2, 2]),
                try reader.tensor(prefix + "downsample.1.bias", shape: [c])
            )
        } else {
            downsample = nil
        }
        var blocks = [ConvNeXtBlock]()
        for block in 0..<configuration.depths[index] {
            blocks.append(
                try ConvNeXtBlock(
                    reader: reader, prefix: prefix + "blocks.\(block).", width: c, configuration: configuration,
                    mlpChunkFloats: mlpChunkFloats))
        }
        self.blocks = blocks
    }

    /// Runs the stage on `x` (`[N, C_{s−1}, H, W]` → `[N, C_s, H/2, W/2]`, or same size for s = 0).
    func callAsFunction(_ x: inout Tensor) throws(TensorError) {
        if let downsample {
            let normed = try layerNorm2d(x, weight: downsample.normWeight, bias: downsample.normBias, eps: eps)
            x = try conv2d(normed, weight: downsample.convWeight, bias: downsample.convBias, stride: (2, 2))
        }
        for block in blocks {
            try block(&x)
        }
    }
}

/// `ConvNeXtBlock`: `x + gamma · fc2(gelu(fc1(LN(dwconv7x7(x)))))`, the MLP channels-last.
struct ConvNeXtBlock: Sendable {
    let depthwiseWeight: Tensor  // [C, 1, k, k]
    let depthwiseBias: Tensor  // [C]
    let normWeight, normBias: Tensor  // [C]
    let fc1Weight: Tensor  // [4C, C]
    let fc1Bias: Tensor  // [4C]
    let fc2Weight: Tensor  // [C, 4C], with gamma folded in when the checkpoint is F32
    let fc2Bias: Tensor  // [C], likewise
    let gamma: Tensor?  // [C] when not folded (16-bit weights stay in their stored dtype)
    let kernelSize: Int
    let eps: Float
    /// Pixels per MLP chunk. The `[rows, 4C]` hidden activations of a chunk stay near 16 MB: small
    /// enough to be reused from the heap (not a fresh zero-filled mapping per block at 768×768
    /// inputs, where they would be 113 MB) and to stay in cache between the GEMMs and GELU.
    let rowsPerChunk: Int

    init(
        reader: TowerWeightReader, prefix: String, width c: Int, configuration: ConvNeXtConfiguration, mlpChunkFloats: Int
    ) throws(VisionTowerError) {
        let k = configuration.depthwiseKernelSize, hidden = configuration.mlpRatio * c
        depthwiseWeight = try reader.tensor(prefix + "conv_dw.weight", shape: [c, 1, k, k])
        depthwiseBias = try reader.tensor(prefix + "conv_dw.bias", shape: [c])
        normWeight = try reader.tensor(prefix + "norm.weight", shape: [c])
        normBias = try reader.tensor(prefix + "norm.bias", shape: [c])
        fc1Weight = try reader.tensor(prefix + "mlp.fc1.weight", shape: [hidden, c])
        fc1Bias = try reader.tensor(prefix + "mlp.fc1.bias", shape: [hidden])
        let weight2 = try reader.tensor(prefix + "mlp.fc2.weight", shape: [c, hidden])
        let bias2 = try reader.tensor(prefix + "mlp.fc2.bias", shape: [c])
        let scale = try reader.tensor(prefix + "gamma", shape: [c])
        if weight2.dtype == .f32 {
            // gamma·(W·h + b) = (gamma ⊙ rows of W)·h + gamma ⊙ b: one pass over the output saved.
            (fc2Weight, fc2Bias) = try tensorOp { () throws(TensorError) in
                (try mul(weight2, scale.reshaped([c, 1])), try mul(bias2, scale))
            }
            gamma = nil
        } else {
            (fc2Weight, fc2Bias, gamma) = (weight2, bias2, scale)
        }
        kernelSize = k
        eps = configuration.normEpsilon
        rowsPerChunk = max(1, mlpChunkFloats / hidden)
    }

    /// Updates `x` (`[N, C, H, W]`) in place: `x += block(x)`.
    func callAsFunction(_ x: inout Tensor) throws(TensorError) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let pad = kernelSize / 2
        let spatial = try conv2d(x, weight: depthwiseWeight, bias: depthwiseBias, padding: (pad, pad), groups: c)
        let rows = try permute(spatial, [0, 2, 3, 1]).reshaped([n * h * w, c])  // [P, C], P = N·H·W
        let normed = try layerNorm(rows, weight: normWeight, bias: normBias, eps: eps)

        let pixels = n * h * w, chunk = rowsPerChunk
        var mixed: Tensor  // [P, C]
        if pixels <= chunk {
            mixed = try mlp(normed)
        } else {
            var pieces = [Tensor]()
            for start in stride(from: 0, to: pixels, by: chunk) {
                pieces.append(try mlp(slice(normed, axis: 0, range: start..<min(pixels, start + chunk))))
            }
            mixed = try concat(pieces, axis: 0)
        }
        if let gamma { try mulInPlace(&mixed, gamma) }
        try addInPlace(&x, permute(mixed.reshaped([n, h, w, c]), [0, 3, 1, 2]))
    }

    private func mlp(_ rows: Tensor) throws(TensorError) -> Tensor {
        let expanded = try gelu(linear(rows, weight: fc1Weight, bias: fc1Bias))
        return try linear(expanded, weight: fc2Weight, bias: fc2Bias)
    }
}
