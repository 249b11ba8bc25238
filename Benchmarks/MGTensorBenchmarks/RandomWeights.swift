import MGTensor

/// Tensors held in memory under checkpoint names: random weights for the model benchmarks.
struct MemoryWeights: WeightStore {
    let tensors: [String: Tensor]
    var names: [String] { tensors.keys.sorted() }

    func contains(_ name: String) -> Bool { tensors[name] != nil }

    func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let tensor = tensors[name] else { throw .tensorNotFound(path: "memory", tensor: name) }
        return tensor
    }

    /// Bytes of all tensors (what one decode step reads when every weight is used once).
    var byteCount: Int { tensors.values.reduce(0) { $0 + $1.count * $1.dtype.byteSize } }

    /// Uniform weights with magnitudes that keep activations in a normal range: rank-1 `*.weight`
    /// (norm scales) near 1, `gamma` (ConvNeXt layer scale) small, other vectors near 0, matrices and
    /// kernels in ±√(3 / fan-in); `unitOffsetNorms` centres norm scales on 0 instead, for models
    /// that apply `1 + w` (Gemma). BF16 tensors are made without an F32 copy.
    static func random(
        _ shapes: [(String, [Int])], dtype: DType = .f32, unitOffsetNorms: Bool = false, seed: UInt64 = 1
    ) throws -> MemoryWeights {
        var tensors = [String: Tensor]()
        for (offset, (name, shape)) in shapes.enumerated() {
            let (center, radius): (Float, Float)
            if name.hasSuffix("gamma") {
                (center, radius) = (0.125, 0.0625)
            } else if shape.count == 1 {
                (center, radius) = name.hasSuffix(".weight") ? (unitOffsetNorms ? 0 : 1, 0.5) : (0, 0.125)
            } else {
                (center, radius) = (0, (3 / Float(shape.dropFirst().reduce(1, *))).squareRoot())
            }
            let seed = seed &+ UInt64(offset) &* 0x9E37_79B9_7F4A_7C15
            tensors[name] = dtype == .bf16
                ? try randomBF16Tensor(shape, center: center, radius: radius, seed: seed)
                : try Tensor(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed).map { center + radius * $0 })
        }
        return MemoryWeights(tensors: tensors)
    }
}

/// A BF16 tensor with values uniform in center ± radius, filled in parallel straight into 16-bit
/// storage (the 256000 × 2048 embedding would take 2 GB as F32).
func randomBF16Tensor(_ shape: [Int], center: Float = 0, radius: Float, seed: UInt64) throws -> Tensor {
    let count = shape.reduce(1, *)
    var bits = [UInt16](repeating: 0, count: count)
    bits.withUnsafeMutableBufferPointer { buffer in
        let base = UncheckedPointer(buffer.baseAddress!)
        Parallel.forEachChunk(count: count, minimumChunk: 1 << 20) { range in
            var state = seed &+ UInt64(range.lowerBound) &* 0x2545_F491_4F6C_DD1D
            for index in range {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let value = center + radius * (Float(state >> 40) * 0x1p-23 - 1)
                base.pointer[index] = UInt16(truncatingIfNeeded: value.bitPattern >> 16)
            }
        }
    }
    return try bits.withUnsafeBytes { raw in try Tensor(shape: shape, dtype: .bf16, bytes: raw) }
}

/// A raw pointer carried into parallel chunks that write disjoint ranges.
struct UncheckedPointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Checkpoint names and shapes of a Hugging Face CLIP vision tower (`vision_model.` prefix).
func clipVisionShapes(hidden h: Int, intermediate i: Int, layers: Int, patch: Int, tokens: Int) -> [(String, [Int])] {
    let p = "vision_model."
    var shapes: [(String, [Int])] = [
        (p + "embeddings.patch_embedding.weight", [h, 3, patch, patch]), (p + "embeddings.class_embedding", [h]),
        (p + "embeddings.position_embedding.weight", [tokens, h]), (p + "pre_layrnorm.weight", [h]),
        (p + "pre_layrnorm.bias", [h]),
    ]
    for layer in 0..<layers {
        let q = p + "encoder.layers.\(layer)."
        for norm in ["layer_norm1", "layer_norm2"] { shapes += [(q + norm + ".weight", [h]), (q + norm + ".bias", [h])] }
        for projection in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            shapes += [(q + "self_attn.\(projection).weight", [h, h]), (q + "self_attn.\(projection).bias", [h])]
        }
        shapes += [(q + "mlp.fc1.weight", [i, h]), (q + "mlp.fc1.bias", [i]), (q + "mlp.fc2.weight", [h, i]), (q + "mlp.fc2.bias", [h])]
    }
    return shapes
}

/// Checkpoint names and shapes of the OpenCLIP ConvNeXt trunk (`visual.trunk.` prefix).
func convNeXtShapes(depths: [Int], widths: [Int]) -> [(String, [Int])] {
    let p = "visual.trunk."
    var shapes: [(String, [Int])] = [
        (p + "stem.0.weight", [widths[0], 3, 4, 4]), (p + "stem.0.bias", [widths[0]]),
        (p + "stem.1.weight", [widths[0]]), (p + "stem.1.bias", [widths[0]]),
    ]
    for (stage, width) in widths.enumerated() {
        let q = p + "stages.\(stage)."
        if stage > 0 {
            let previous = widths[stage - 1]
            shapes += [
                (q + "downsample.0.weight", [previous]), (q + "downsample.0.bias", [previous]),
                (q + "downsample.1.weight", [width, previous, 2, 2]), (q + "downsample.1.bias", [width]),
            ]
        }
        for block in 0..<depths[stage] {
            let r = q + "blocks.\(block)."
            shapes += [
                (r + "conv_dw.weight", [width, 1, 7, 7]), (r + "conv_dw.bias", [width]), (r + "norm.weight", [width]),
                (r + "norm.bias", [width]), (r + "mlp.fc1.weight", [4 * width, width]), (r + "mlp.fc1.bias", [4 * width]),
                (r + "mlp.fc2.weight", [width, 4 * width]), (r + "mlp.fc2.bias", [width]), (r + "gamma", [width]),
            ]
        }
    }
    return shapes
}

/// Checkpoint names and shapes of a Gemma decoder (`model.` prefix, embedding tied to the head).
func gemmaShapes(vocabulary: Int, hidden: Int, intermediate: Int, layers: Int, heads: Int, keyValueHeads: Int, headSize: Int)
    -> [(String, [Int])]
{
    var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [vocabulary, hidden]), ("model.norm.weight", [hidden])]
    for layer in 0..<layers {
        let l = "model.layers.\(layer)."
        shapes += [
            (l + "input_layernorm.weight", [hidden]), (l + "post_attention_layernorm.weight", [hidden]),
            (l + "self_attn.q_proj.weight", [heads * headSize, hidden]),
            (l + "self_attn.k_proj.weight", [keyValueHeads * headSize, hidden]),
            (l + "self_attn.v_proj.weight", [keyValueHeads * headSize, hidden]),
            (l + "self_attn.o_proj.weight", [hidden, heads * headSize]),
            (l + "mlp.gate_proj.weight", [intermediate, hidden]), (l + "mlp.up_proj.weight", [intermediate, hidden]),
            (l + "mlp.down_proj.weight", [hidden, intermediate]),
        ]
    }
    return shapes
}
