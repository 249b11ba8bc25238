import CMGImageCodecs
import MGTensor

/// HF `CLIPImageProcessor` on an ``RGBImage``, with the semantics of transformers 4.36 (the
/// version MGM pins; transformers 5 keeps them as `CLIPImageProcessorPil`):
///
/// 1. resize with Pillow BICUBIC on the 8-bit image — to `shortest_edge` on the short side and
///    `int(s · long / short)` on the long side, or to an exact size;
/// 2. centre crop with offsets `⌊(side − crop) / 2⌋`;
/// 3. rescale `x · factor` computed in double and rounded to float;
/// 4. normalise `(x − mean) / std` in float;
/// 5. lay out as a `[1, 3, cropHeight, cropWidth]` tensor.
///
/// Steps 3–5 go through a 768-entry table (every byte value of every channel), so the tensor is
/// exactly the float32 array NumPy produces.
public struct CLIPImageProcessor: Sendable, Equatable {
    /// OpenAI CLIP's normalisation mean (also OpenCLIP's for MGM's ConvNeXt tower).
    public static let openAIMean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    /// OpenAI CLIP's normalisation standard deviation.
    public static let openAIStd: [Double] = [0.26862954, 0.26130258, 0.27577711]

    /// Step 1's target, or `nil` to skip resizing (`do_resize = false`).
    public let resize: CLIPPreprocessorConfig.Size?
    /// Step 2's `(height, width)`, or `nil` to skip cropping.
    public let crop: (height: Int, width: Int)?
    /// Step 3's factor, or `nil` to skip rescaling.
    public let rescaleFactor: Double?
    /// Step 4's per-channel mean and standard deviation, or `nil` to skip normalising.
    public let normalization: (mean: [Double], std: [Double])?

    /// A processor resizing the shortest edge to `shortestEdge` and centre-cropping a square of
    /// `cropSize` (default: the same), with rescale 1/255 and the given normalisation.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for non-positive sizes or a mean/std
    ///   that is not three finite values with positive std.
    public init(
        shortestEdge: Int, cropSize: Int? = nil,
        mean: [Double] = openAIMean, std: [Double] = openAIStd
    ) throws(VisionError) {
        try self.init(
            resize: .shortestEdge(shortestEdge), crop: (cropSize ?? shortestEdge, cropSize ?? shortestEdge),
            rescaleFactor: 1.0 / 255.0, normalization: (mean, std))
    }

    /// A processor as `CLIPImageProcessor(**config)` builds it.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for a resample filter other than
    ///   bicubic (3), `do_convert_rgb = false`, or invalid sizes, mean or std.
    public init(config: CLIPPreprocessorConfig) throws(VisionError) {
        guard config.resample ?? 3 == 3 else {
            throw .invalidConfiguration(reason: "resample filter \(config.resample ?? 3) is not bicubic (3)")
        }
        guard config.doConvertRGB ?? true else {
            throw .invalidConfiguration(reason: "do_convert_rgb = false is not supported (images are always RGB)")
        }
        try self.init(
            resize: (config.doResize ?? true) ? (config.size ?? .shortestEdge(224)) : nil,
            crop: (config.doCenterCrop ?? true) ? (config.cropSize ?? .exact(height: 224, width: 224)).cropDimensions : nil,
            rescaleFactor: (config.doRescale ?? true) ? (config.rescaleFactor ?? 1.0 / 255.0) : nil,
            normalization: (config.doNormalize ?? true)
                ? (config.imageMean ?? Self.openAIMean, config.imageStd ?? Self.openAIStd) : nil)
    }

    /// The general form; every step can be left out with `nil`.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for invalid values.
    public init(
        resize: CLIPPreprocessorConfig.Size?, crop: (height: Int, width: Int)?,
        rescaleFactor: Double?, normalization: (mean: [Double], std: [Double])?
    ) throws(VisionError) {
        let sides: [Int] = switch resize {
        case .shortestEdge(let edge): [edge]
        case .exact(let height, let width): [height, width]
        case nil: []
        }
        guard (sides + [crop?.height ?? 1, crop?.width ?? 1]).allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }) else {
            throw .invalidConfiguration(reason: "resize \(String(describing: resize)) and crop sizes must be positive")
        }
        if let factor = rescaleFactor, !factor.isFinite {
            throw .invalidConfiguration(reason: "rescale factor \(factor) is not finite")
        }
        if let (mean, std) = normalization {
            guard mean.count == 3, std.count == 3, mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw .invalidConfiguration(reason: "mean \(mean) and std \(std) must be three finite values, std positive")
            }
        }
        self.init(uncheckedResize: resize, crop: crop, rescaleFactor: rescaleFactor, normalization: normalization)
    }

    init(
        uncheckedResize resize: CLIPPreprocessorConfig.Size?, crop: (height: Int, width: Int)?,
        rescaleFactor: Double?, normalization: (mean: [Double], std: [Double])?
    ) {
        self.resize = resize
        self.crop = crop
        self.rescaleFactor = rescaleFactor
        self.normalization = normalization
    }

    public static func == (lhs: CLIPImageProcessor, rhs: CLIPImageProcessor) -> Bool {
        lhs.resize == rhs.resize && lhs.crop?.height == rhs.crop?.height && lhs.crop?.width == rhs.crop?.width
            && lhs.rescaleFactor == rhs.rescaleFactor && lhs.normalization?.mean == rhs.normalization?.mean
            && lhs.normalization?.std == rhs.normalization?.std
    }

    /// The size step 1 produces for an image of `width × height`.
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        switch resize {
        case nil: return (width, height)
        case .exact(let h, let w): return (w, h)
        case .shortestEdge(let edge):
            let short = min(width, height), long = max(width, height)
            // transformers: int(edge * long / short), the division in double.
            let newLong = Int((Double(edge * long) / Double(short)).rounded(.towardZero))
            return width <= height ? (edge, newLong) : (newLong, edge)
        }
    }

    /// Step 1 alone: the 8-bit image after Pillow's bicubic resize.
    /// - Throws: ``VisionError/invalidImage(reason:)`` when the target size is invalid.
    public func resized(_ image: RGBImage) throws(VisionError) -> RGBImage {
        let size = resizedSize(width: image.width, height: image.height)
        return try image.resizedBicubic(width: size.width, height: size.height)
    }

    /// Steps 1–5: the model input `[1, 3, H, W]` in float32.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` when the crop is larger than the
    ///   resized image (transformers would zero-pad; no CLIP configuration does that), or the
    ///   errors of ``resized(_:)``.
    public func callAsFunction(_ image: RGBImage) throws(VisionError) -> Tensor {
        try tensor(fromResized: resized(image))
    }

    /// Steps 2–5 on an image that is already resized.
    /// - Throws: as ``callAsFunction(_:)``.
    public func tensor(fromResized image: RGBImage) throws(VisionError) -> Tensor {
        let cropHeight = crop?.height ?? image.height, cropWidth = crop?.width ?? image.width
        guard cropHeight <= image.height, cropWidth <= image.width else {
            throw .invalidConfiguration(
                reason: "centre crop \(cropWidth)×\(cropHeight) is larger than the resized image \(image.width)×\(image.height)")
        }
        let top = (image.height - cropHeight) / 2, left = (image.width - cropWidth) / 2
        var table = [Float](repeating: 0, count: 768)
        let mean = (normalization?.mean ?? [0, 0, 0]).map { Float($0) }
        let std = (normalization?.std ?? [1, 1, 1]).map { Float($0) }
        mg_normalization_table(rescaleFactor ?? 1.0, mean, std, &table)

        var output: Tensor
        do {
            output = try Tensor.zeros([1, 3, cropHeight, cropWidth])
        } catch {
            throw .tensor(error)
        }
        output.withUnsafeMutableFloats { destination in
            image.pixels.withUnsafeBufferPointer { source in
                let origin = source.baseAddress.map { $0 + (top * image.width + left) * 3 }
                Parallel.forEachChunk(count: cropHeight, minimumChunk: max(1, 32_768 / cropWidth)) { rows in
                    mg_rgb8_to_normalized_chw(
                        origin, image.width * 3, Int32(cropWidth), Int32(cropHeight),
                        Int32(rows.lowerBound), Int32(rows.upperBound), table, destination.baseAddress)
                }
            }
        }
        return output
    }
}
