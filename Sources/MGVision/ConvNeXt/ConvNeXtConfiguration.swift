import Foundation

// The ConvNeXt trunks OpenCLIP builds through timm (open_clip/model_configs/convnext_*.json name a
// `timm_model_name`; timm/models/convnext.py gives its depths, widths and norm epsilon), as
// Mini-Gemini's OpenCLIPVisionTower (mgm/model/multimodal_encoder/openclip_encoder.py) picks them.

/// The architecture of a timm ConvNeXt trunk (stem + four stages; no head).
///
/// ```swift
/// let configuration = try ConvNeXtConfiguration(named: "convnext_large_d_320")
/// // or, from the OpenCLIP release directory:
/// let fromFile = try ConvNeXtConfiguration(contentsOf: directory.appending(path: "open_clip_config.json"))
/// ```
public struct ConvNeXtConfiguration: Codable, Sendable, Equatable {
    /// Blocks per stage, e.g. `[3, 3, 27, 3]`.
    public var depths: [Int]
    /// Channels per stage, e.g. `[192, 384, 768, 1536]`.
    public var widths: [Int]
    /// Epsilon of every LayerNorm (1e-6, except 1e-5 for `convnext_xxlarge`).
    public var normEpsilon: Float
    /// Input channels.
    public var inputChannels: Int
    /// Side of the stem's patchify convolution (stride equals kernel).
    public var stemPatchSize: Int
    /// Side of the depthwise convolution of each block.
    public var depthwiseKernelSize: Int
    /// Hidden width of each block's MLP, as a multiple of the stage width.
    public var mlpRatio: Int
    /// timm's `conv_mlp`: the block MLP is a pair of 1×1 convolutions (weights `[out, in, 1, 1]`)
    /// after a channels-first LayerNorm. The arithmetic is the same as the linear MLP; only the
    /// stored weight shapes differ. The small timm trunks (atto … nano) use it.
    public var convolutionalMLP: Bool

    /// Creates a configuration; the defaults are timm's ConvNeXt defaults.
    public init(
        depths: [Int], widths: [Int], normEpsilon: Float = 1e-6, inputChannels: Int = 3, stemPatchSize: Int = 4,
        depthwiseKernelSize: Int = 7, mlpRatio: Int = 4, convolutionalMLP: Bool = false
    ) {
        self.depths = depths
        self.widths = widths
        self.normEpsilon = normEpsilon
        self.inputChannels = inputChannels
        self.stemPatchSize = stemPatchSize
        self.depthwiseKernelSize = depthwiseKernelSize
        self.mlpRatio = mlpRatio
        self.convolutionalMLP = convolutionalMLP
    }

    /// The trunks of timm's ConvNeXt family, by timm model name.
    public static let timmModels: [String: ConvNeXtConfiguration] = [
        "convnext_atto": .init(depths: [2, 2, 6, 2], widths: [40, 80, 160, 320], convolutionalMLP: true),
        "convnext_femto": .init(depths: [2, 2, 6, 2], widths: [48, 96, 192, 384], convolutionalMLP: true),
        "convnext_pico": .init(depths: [2, 2, 6, 2], widths: [64, 128, 256, 512], convolutionalMLP: true),
        "convnext_nano": .init(depths: [2, 2, 8, 2], widths: [80, 160, 320, 640], convolutionalMLP: true),
        "convnext_tiny": .init(depths: [3, 3, 9, 3], widths: [96, 192, 384, 768]),
        "convnext_small": .init(depths: [3, 3, 27, 3], widths: [96, 192, 384, 768]),
        "convnext_base": .init(depths: [3, 3, 27, 3], widths: [128, 256, 512, 1024]),
        "convnext_large": .init(depths: [3, 3, 27, 3], widths: [192, 384, 768, 1536]),
        "convnext_xlarge": .init(depths: [3, 3, 27, 3], widths: [256, 512, 1024, 2048]),
        "convnext_xxlarge": .init(depths: [3, 4, 30, 3], widths: [384, 768, 1536, 3072], normEpsilon: 1e-5),
    ]

    /// OpenCLIP model names (open_clip/model_configs) and the timm trunk each one builds.
    public static let openCLIPModels: [String: String] = [
        "convnext_tiny": "convnext_tiny", "convnext_small": "convnext_small",
        "convnext_base": "convnext_base", "convnext_base_w": "convnext_base", "convnext_base_w_320": "convnext_base",
        "convnext_large": "convnext_large", "convnext_large_d": "convnext_large", "convnext_large_d_320": "convnext_large",
        "convnext_xlarge": "convnext_xlarge",
        "convnext_xxlarge": "convnext_xxlarge", "convnext_xxlarge_320": "convnext_xxlarge",
    ]

    /// The trunk of Mini-Gemini's high-resolution tower (`convnext_large_d_320`, ConvNeXt-L).
    public static let large = ConvNeXtConfiguration(depths: [3, 3, 27, 3], widths: [192, 384, 768, 1536])

    /// The trunk of an OpenCLIP or timm model name, e.g. `convnext_large_d_320` or `convnext_large`.
    /// - Throws: ``VisionError/unknownModel(_:)``.
    public init(named name: String) throws(VisionError) {
        guard let configuration = Self.timmModels[Self.openCLIPModels[name] ?? name] else { throw .unknownModel(name) }
        self = configuration
    }

    /// The OpenCLIP model name Mini-Gemini derives from the high-resolution tower's directory
    /// name (`mm_vision_tower_aux`), or `nil` when the official code would not recognise it.
    ///
    /// As in the official wrapper: "convnext" plus "large" and "d-320" selects
    /// `convnext_large_d_320`, "base" and "w-320" `convnext_base_w_320`, "xxlarge" `convnext_xxlarge`.
    public static func miniGeminiModelName(forDirectory name: String) -> String? {
        guard name.contains("convnext") else { return nil }
        if name.contains("large") && name.contains("d-320") { return "convnext_large_d_320" }
        if name.contains("base") && name.contains("w-320") { return "convnext_base_w_320" }
        if name.contains("xxlarge") { return "convnext_xxlarge" }
        return nil
    }

    /// Decodes an OpenCLIP `open_clip_config.json` (`{"model_cfg": {"vision_cfg": {...}}}`) or a bare
    /// OpenCLIP model config (`{"vision_cfg": {...}}`) and returns its timm trunk.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` when the JSON has no
    ///   `vision_cfg.timm_model_name`, ``VisionError/unknownModel(_:)`` for a trunk that is
    ///   not a ConvNeXt.
    public init(openCLIPConfigData data: Data) throws(VisionError) {
        guard let name = try Self.timmModelName(openCLIPConfigData: data) else {
            throw .invalidConfiguration(reason: "open_clip_config.json has no vision_cfg.timm_model_name (not a timm ConvNeXt model)")
        }
        try self.init(named: name)
    }

    /// Reads an `open_clip_config.json` file (see ``init(openCLIPConfigData:)``).
    public init(contentsOf url: URL) throws(VisionError) {
        try self.init(openCLIPConfigData: VisionError.configurationData(contentsOf: url))
    }

    /// Channels of Mini-Gemini's fused map: the sum of the stage widths (2880 for ConvNeXt-L).
    public var fusedChannels: Int { widths.reduce(0, +) }

    /// Checks that the sizes describe a buildable trunk.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)``.
    public func validate() throws(VisionError) {
        guard !depths.isEmpty, depths.count == widths.count else {
            throw .invalidConfiguration(reason: "ConvNeXt needs one width per stage, got depths \(depths) and widths \(widths)")
        }
        guard depths.allSatisfy({ $0 >= 0 }), widths.allSatisfy({ $0 > 0 }) else {
            throw .invalidConfiguration(reason: "ConvNeXt depths must be non-negative and widths positive: \(depths), \(widths)")
        }
        guard inputChannels > 0, stemPatchSize > 0, mlpRatio > 0, depthwiseKernelSize > 0, depthwiseKernelSize % 2 == 1 else {
            throw .invalidConfiguration(reason: "ConvNeXt kernel sizes and ratios must be positive (odd depthwise kernel): \(self)")
        }
        guard normEpsilon.isFinite, normEpsilon >= 0 else {
            throw .invalidConfiguration(reason: "ConvNeXt norm epsilon \(normEpsilon) is not a non-negative number")
        }
    }
}
