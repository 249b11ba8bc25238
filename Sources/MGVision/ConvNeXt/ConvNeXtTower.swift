import CMGKernels
import Foundation
import MGTensor

// Mirrors Mini-Gemini's OpenCLIPVisionTower (mgm/model/multimodal_encoder/openclip_encoder.py):
// the timm ConvNeXt trunk's stem and stages only (norm_pre, head and the OpenCLIP projection are
// discarded), every stage output kept, stages 1–3 resized to stage 0 and concatenated (`backbone`).

/// Where a checkpoint keeps the ConvNeXt trunk's stem and stages.
public enum ConvNeXtWeightLayout: Sendable, Equatable {
    /// An OpenCLIP state dict (`open_clip_pytorch_model.bin` of the LAION release):
    /// `<prefix>stem.*`, `<prefix>stages.*` with `prefix = "visual.trunk."`. A bare timm state
    /// dict is `.openCLIP(prefix: "")`.
    case openCLIP(prefix: String = "visual.trunk.")
    /// Mini-Gemini's own shards, where the wrapper registers the trunk's parts as `vision_stem`
    /// and `vision_stages`: `<prefix>vision_stem.*`, `<prefix>vision_stages.*` with
    /// `prefix = "model.vision_tower_aux."`.
    case miniGemini(prefix: String = "model.vision_tower_aux.")

    /// The prefix of the stem's tensors (`.0` convolution, `.1` LayerNorm2d).
    public var stemPrefix: String {
        switch self {
        case .openCLIP(let prefix): prefix + "stem."
        case .miniGemini(let prefix): prefix + "vision_stem."
        }
    }

    /// The prefix of the stages' tensors (`{s}.downsample.{0,1}`, `{s}.blocks.{b}.*`).
    public var stagesPrefix: String {
        switch self {
        case .openCLIP(let prefix): prefix + "stages."
        case .miniGemini(let prefix): prefix + "vision_stages."
        }
    }
}

/// The OpenCLIP ConvNeXt of Mini-Gemini's high-resolution branch.
///
/// ``encode(_:)`` returns Mini-Gemini's fused map: the four stage outputs, stages 1–3 resized
/// bilinearly (`align_corners=False`) to the size of stage 0, concatenated on channels
/// (192 + 384 + 768 + 1536 = 2880 for ConvNeXt-L, at a quarter of the input resolution).
///
/// The trunk runs in inference (eval) mode: drop path is the identity. The official serving code
/// leaves these modules in training mode, so its high-resolution features are stochastic
/// (mgm-architecture.md §4); the deterministic eval behaviour is the reference we match.
///
/// ```swift
/// let store = try SafetensorsFile(contentsOf: URL(fileURLWithPath: "convnext_large_d_320.safetensors"))
/// let tower = try ConvNeXtTower(configuration: .large, weights: store)
/// let map = try tower.encode(pixels)   // [1, 2880, 192, 192] for a 768×768 image
/// ```
public final class ConvNeXtTower: HighResolutionFeatureEncoder {
    /// The architecture.
    public let configuration: ConvNeXtConfiguration
    /// The arithmetic of the blocks' MLP products (``VisionPrecision/float32`` unless chosen).
    public let precision: VisionPrecision
    let stem: ConvNeXtStem
    let stages: [ConvNeXtStage]

    /// Loads the trunk's stem and stages from a checkpoint.
    /// - Parameters:
    ///   - configuration: the architecture, e.g. ``ConvNeXtConfiguration/large`` or one decoded
    ///     from `open_clip_config.json`.
    ///   - weights: any store holding the tensors (OpenCLIP `.bin` through a PyTorch reader, a
    ///     safetensors conversion, or Mini-Gemini's shards).
    ///   - layout: where the tensors live (``ConvNeXtWeightLayout``).
    ///   - precision: the arithmetic of the blocks' fc1/fc2 products; ``VisionPrecision/bfloat16`` is
    ///     the opt-in fast mode (convolutions, norms and GELU stay F32).
    /// - Throws: ``VisionError/missingWeight(_:)``, ``VisionError/weightShape(name:expected:actual:)``
    ///   or ``VisionError/unusedWeights(_:)`` when the checkpoint does not match the
    ///   configuration; ``VisionError/invalidConfiguration(reason:)``.
    public convenience init(
        configuration: ConvNeXtConfiguration, weights: some WeightStore, layout: ConvNeXtWeightLayout = .openCLIP(),
        precision: VisionPrecision = .float32
    ) throws(VisionError) {
        try self.init(configuration: configuration, weights: weights, layout: layout, mlpChunkFloats: 7 << 20, precision: precision)
    }

    /// `mlpChunkFloats` bounds the hidden activations of one MLP chunk (tests make it small to
    /// exercise the chunked path on tiny inputs).
    init(
        configuration: ConvNeXtConfiguration, weights: some WeightStore, layout: ConvNeXtWeightLayout, mlpChunkFloats: Int,
        precision: VisionPrecision = .float32
    ) throws(VisionError) {
        try configuration.validate()
        self.configuration = configuration
        self.precision = precision
        let reader = WeightReader(weights, errors: VisionError.weight)
        stem = try ConvNeXtStem(reader: reader, prefix: layout.stemPrefix, configuration: configuration)
        var stages = [ConvNeXtStage]()
        for index in configuration.depths.indices {
            stages.append(
                try ConvNeXtStage(
                    reader: reader, prefix: layout.stagesPrefix + "\(index).", index: index, configuration: configuration,
                    mlpChunkFloats: mlpChunkFloats, precision: precision))
        }
        self.stages = stages
        try reader.verifyAllUsed(under: [layout.stemPrefix, layout.stagesPrefix])
    }

    public var channels: Int { configuration.fusedChannels }
    public var featureStride: Int { configuration.stemPatchSize }

    /// The smallest input side: every stage must keep at least one pixel.
    public var minimumImageSize: Int { configuration.stemPatchSize << (configuration.depths.count - 1) }

    /// The output of every stage (after its last block; no final norm).
    /// - Parameter pixels: `[N, 3, H, W]` normalised images, any float dtype.
    /// - Returns: one `[N, widths[s], H / (4·2^s), W / (4·2^s)]` F32 tensor per stage.
    /// - Throws: ``VisionError/invalidInput(expected:actual:)`` for other shapes.
    public func stageOutputs(_ pixels: Tensor) throws(VisionError) -> [Tensor] {
        try stageOutputs(pixels, mark: nil)
    }

    /// ``stageOutputs(_:)``, calling `mark` with a part's name after each part (stem, downsample, the
    /// block's operations) for the benchmark's per-part breakdown.
    package func stageOutputs(_ pixels: Tensor, mark: PartMark?) throws(VisionError) -> [Tensor] {
        let minimum = minimumImageSize
        guard pixels.rank == 4, pixels.shape[0] > 0, pixels.shape[1] == configuration.inputChannels,
            pixels.shape[2] >= minimum, pixels.shape[3] >= minimum
        else {
            throw .invalidInput(expected: "[N, \(configuration.inputChannels), H, W] with H, W ≥ \(minimum)", actual: pixels.shape)
        }
        return try tensorOp(VisionError.tensor) { () throws(TensorError) in
            var x = try stem(pixels)  // [N, C0, H/4, W/4]
            mark?("stem (4×4 conv + LayerNorm2d)")
            var outputs = [Tensor]()
            for stage in stages {
                try stage(&x, mark: mark)
                outputs.append(x)
            }
            return outputs
        }
    }

    /// Encodes a batch of normalised images into Mini-Gemini's fused high-resolution map.
    /// - Parameter pixels: `[N, 3, H, W]`, any float dtype (768×768 or 1536×1536 in Mini-Gemini).
    /// - Returns: `[N, channels, H/4, W/4]` in F32.
    /// - Throws: ``VisionError/invalidInput(expected:actual:)`` for other shapes.
    public func encode(_ pixels: Tensor) throws(VisionError) -> Tensor {
        let outputs = try stageOutputs(pixels)
        return try tensorOp(VisionError.tensor) { () throws(TensorError) in try Self.fuse(outputs) }
    }

    /// Mini-Gemini's fusion of stage outputs: each later stage resized bilinearly
    /// (`align_corners=False`, computed in F32) to the first stage's size, then all concatenated
    /// on the channel axis in stage order.
    /// - Parameter stages: `[N, C_s, H_s, W_s]` tensors with a common batch size.
    /// - Returns: `[N, ΣC_s, H_0, W_0]`.
    /// - Throws: ``/MGTensor/TensorError`` when the batch sizes differ or a tensor is not rank 4.
    public static func fuse(_ stages: [Tensor]) throws(TensorError) -> Tensor {
        guard let first = stages.first, first.rank == 4 else {
            throw .invalidArgument(operation: "ConvNeXt fuse", reason: "expects rank-4 stage outputs")
        }
        let (batch, height, width) = (first.shape[0], first.shape[2], first.shape[3])
        guard stages.allSatisfy({ $0.rank == 4 && $0.shape[0] == batch && $0.shape[2] > 0 && $0.shape[3] > 0 }), height > 0, width > 0
        else {
            throw .invalidArgument(operation: "ConvNeXt fuse", reason: "stage outputs \(stages.map(\.shape)) differ in batch or are empty")
        }
        let channels = stages.reduce(0) { $0 + $1.shape[1] }, plane = height * width
        guard Shape.elementCount([batch, channels, height, width]) != nil else { throw .invalidShape([batch, channels, height, width]) }
        // Each stage is resized straight into its channel range of the result: no resized copies
        // and no concatenation pass over the ~425 MB map (ConvNeXt-L at 768).
        var fused = Tensor(uninitializedShape: [batch, channels, height, width])
        var offset = 0
        for stage in stages {
            let source = try stage.asFloat32()
            let (c, inH, inW) = (source.shape[1], source.shape[2], source.shape[3])
            let taps = inH == height && inW == width ? nil : BilinearTaps(inH: inH, inW: inW, outH: height, outW: width)
            source.withUnsafeFloats { input in
                fused.withUnsafeMutableFloats { output in
                    let (src, dst) = (input.baseAddress!, output.baseAddress!)
                    for image in 0..<batch {
                        let from = src + image * c * inH * inW, to = dst + (image * channels + offset) * plane
                        guard let taps else {
                            to.update(from: from, count: c * plane)
                            continue
                        }
                        Parallel.forEachChunk(count: c, minimumChunk: max(1, 16_384 / plane)) { range in
                            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * width)
                            defer { scratch.deallocate() }
                            taps.resize(from: from + range.lowerBound * inH * inW, to: to + range.lowerBound * plane, planes: range.count, scratch: scratch)
                        }
                    }
                }
            }
            offset += c
        }
        return fused
    }
}

/// Source taps of one bilinear resize (PyTorch's `align_corners=False` weights, as
/// `interpolateBilinear(_:size:)` computes them), for resizing planes straight into a larger tensor.
private final class BilinearTaps {
    let (inH, inW, outH, outW): (Int, Int, Int, Int)
    private let rows: UnsafeMutablePointer<Int32>, columns: UnsafeMutablePointer<Int32>
    private let rowWeights: UnsafeMutablePointer<Float>, columnWeights: UnsafeMutablePointer<Float>

    init(inH: Int, inW: Int, outH: Int, outW: Int) {
        (self.inH, self.inW, self.outH, self.outW) = (inH, inW, outH, outW)
        rows = .allocate(capacity: 2 * outH)
        columns = .allocate(capacity: 2 * outW)
        rowWeights = .allocate(capacity: 2 * outH)
        columnWeights = .allocate(capacity: 2 * outW)
        mg_linear_taps(inH, outH, Float(inH) / Float(outH), rows, rows + outH, rowWeights, rowWeights + outH)
        mg_linear_taps(inW, outW, Float(inW) / Float(outW), columns, columns + outW, columnWeights, columnWeights + outW)
    }

    deinit {
        rows.deallocate()
        columns.deallocate()
        rowWeights.deallocate()
        columnWeights.deallocate()
    }

    /// Resizes `planes` consecutive `[inH, inW]` planes into consecutive `[outH, outW]` planes.
    /// `scratch` holds `2 · outW` floats.
    func resize(from source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, planes: Int, scratch: UnsafeMutablePointer<Float>) {
        mg_bilinear_planes(
            source, target, planes, inH, inW, outH, outW, rows, rows + outH, rowWeights, rowWeights + outH, columns,
            columns + outW, columnWeights, columnWeights + outW, scratch)
    }
}
