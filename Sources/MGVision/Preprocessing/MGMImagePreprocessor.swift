import Foundation
import MGTensor

/// The two image inputs of an MGM model, as the official code builds them for one image.
public struct MGMImageTensors: Sendable {
    /// The HR input of the ConvNeXt tower: `[1, 3, S, S]` with `S = imageSizeAux` (768 or 1536).
    public let highResolution: Tensor
    /// The LR inputs of the CLIP tower: `[V, 3, L, L]` with `L = lowResolutionSize` (336).
    /// Normal models have `V = 1`. With a grid `g ≥ 2` there are `g²` crops in row-major order
    /// (crop `k` is row `k / g`, column `k % g`), followed by the global view when enabled — the
    /// order MGM stacks them in before its vision towers (HD: `[crop0, crop1, crop2, crop3, global]`).
    public let lowResolution: Tensor

    /// `V`, the number of LR views.
    public var lowResolutionViews: Int { lowResolution.shape[0] }
}

/// MGM's image preprocessing (MGM repo: `mgm/mm_utils.py` `process_images`, `mgm/serve/cli.py`):
///
/// 1. pad to a square with the mean colour (``RGBImage/paddedToSquare(background:)``);
/// 2. the CLIP image processor with its size and crop forced to `imageSizeAux` → HR tensor;
/// 3. LR = bilinear resize (align_corners = false) of the *normalised* HR tensor to
///    `lowResolutionSize · grid`;
/// 4. with `grid ≥ 2`: split into `grid × grid` crops, plus (if `global`) the LR image resized
///    bilinearly to `lowResolutionSize`.
///
/// ```swift
/// let preprocessor = MGMImagePreprocessor.highDefinition
/// let inputs = try preprocessor(try RGBImage(contentsOf: URL(fileURLWithPath: "photo.jpg")))
/// // inputs.highResolution: [1, 3, 1536, 1536], inputs.lowResolution: [5, 3, 336, 336]
/// ```
public struct MGMImagePreprocessor: Sendable {
    /// HR side `image_size_aux` (768 normal, 1536 HD).
    public let imageSizeAux: Int
    /// LR side of one CLIP view: the CLIP processor's original crop size (`image_size_raw`, 336).
    public let lowResolutionSize: Int
    /// `image_grid`: the LR image is `grid × grid` views of `lowResolutionSize`.
    public let grid: Int
    /// `image_global`: append the whole LR image downsized to one view (only when `grid ≥ 2`, as in MGM).
    public let global: Bool
    /// The square-padding colour, `int(255 · mean)` per channel.
    public let background: RGBColor
    /// The CLIP processor producing the HR tensor (size and crop already set to `imageSizeAux`).
    public let processor: CLIPImageProcessor

    /// MGM-2B/7B/13B/8B/8x7B/34B: HR 768, LR 336, one view.
    public static let standard = MGMImagePreprocessor(validImageSizeAux: 768, grid: 1, global: false)
    /// The HD models: HR 1536, LR 2×2 crops of 336 plus the global view.
    public static let highDefinition = MGMImagePreprocessor(validImageSizeAux: 1536, grid: 2, global: true)

    /// - Parameters:
    ///   - imageSizeAux: HR side (`config.image_size_aux`).
    ///   - lowResolutionSize: LR view side (the CLIP crop size).
    ///   - grid: `config.image_grid`.
    ///   - global: `config.image_global`.
    ///   - mean: the CLIP normalisation mean per channel (also the padding colour's source).
    ///   - std: the CLIP normalisation standard deviation per channel.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for non-positive sizes or an invalid mean/std.
    public init(
        imageSizeAux: Int = 768, lowResolutionSize: Int = 336, grid: Int = 1, global: Bool = false,
        mean: [Double] = CLIPImageProcessor.openAIMean, std: [Double] = CLIPImageProcessor.openAIStd
    ) throws(VisionError) {
        try Self.validate(imageSizeAux: imageSizeAux, lowResolutionSize: lowResolutionSize, grid: grid)
        self.init(
            imageSizeAux: imageSizeAux, lowResolutionSize: lowResolutionSize, grid: grid, global: global,
            background: try RGBColor(paddingForMean: mean),
            processor: try CLIPImageProcessor(shortestEdge: imageSizeAux, mean: mean, std: std))
    }

    /// A preprocessor for an MGM model whose CLIP tower ships `config` (its
    /// `preprocessor_config.json`): mean, std, rescale factor and flags come from it, the LR side is
    /// its crop size (`image_size_raw`), and its resize and crop sizes are overridden by
    /// `imageSizeAux` as MGM does.
    /// - Throws: ``VisionError/invalidConfiguration(reason:)`` for a non-square crop, a filter other
    ///   than bicubic, or invalid sizes, mean or std.
    public init(config: CLIPPreprocessorConfig, imageSizeAux: Int, grid: Int = 1, global: Bool = false) throws(VisionError) {
        let raw = (config.cropSize ?? .exact(height: 224, width: 224)).cropDimensions
        guard raw.height == raw.width else {
            throw .invalidConfiguration(reason: "CLIP crop size \(raw.width)×\(raw.height) is not square")
        }
        try Self.validate(imageSizeAux: imageSizeAux, lowResolutionSize: raw.height, grid: grid)
        var overridden = config
        overridden.size = .shortestEdge(imageSizeAux)
        overridden.cropSize = .exact(height: imageSizeAux, width: imageSizeAux)
        self.init(
            imageSizeAux: imageSizeAux, lowResolutionSize: raw.height, grid: grid, global: global,
            background: try RGBColor(paddingForMean: config.imageMean ?? CLIPImageProcessor.openAIMean),
            processor: try CLIPImageProcessor(config: overridden))
    }

    private init(
        imageSizeAux: Int, lowResolutionSize: Int, grid: Int, global: Bool, background: RGBColor,
        processor: CLIPImageProcessor
    ) {
        self.imageSizeAux = imageSizeAux
        self.lowResolutionSize = lowResolutionSize
        self.grid = grid
        self.global = global
        self.background = background
        self.processor = processor
    }

    private init(validImageSizeAux side: Int, grid: Int, global: Bool) {
        self.init(
            imageSizeAux: side, lowResolutionSize: 336, grid: grid, global: global,
            background: RGBColor(red: 122, green: 116, blue: 104), processor: CLIPImageProcessor(validShortestEdge: side))
    }

    private static func validate(imageSizeAux: Int, lowResolutionSize: Int, grid: Int) throws(VisionError) {
        guard imageSizeAux > 0, lowResolutionSize > 0, grid > 0, imageSizeAux <= 1 << 16,
              lowResolutionSize <= 1 << 16, grid <= 64 else {
            throw .invalidConfiguration(
                reason: "sizes must be positive and at most 65536, grid at most 64: aux \(imageSizeAux), LR \(lowResolutionSize), grid \(grid)")
        }
    }

    /// The most pixels the padded square of step 1 may have: the decoder's default limit. A thin
    /// image (1×60000 is a few hundred bytes of PNG) is within any pixel limit, but its square
    /// would take gigabytes.
    public static let maximumPaddedPixels = ImageDecoder.defaultMaximumPixels

    /// Step 1–2: the HR tensor `[1, 3, S, S]`.
    /// - Throws: ``VisionError/imageTooLarge(width:height:maximumPixels:)`` (with the square's
    ///   sides) when the padded square exceeds ``maximumPaddedPixels``; ``VisionError`` from the
    ///   CLIP processor.
    public func highResolution(_ image: RGBImage) throws(VisionError) -> Tensor {
        let side = max(image.width, image.height)
        let (square, overflow) = side.multipliedReportingOverflow(by: side)
        guard !overflow, square <= Self.maximumPaddedPixels else {
            throw .imageTooLarge(width: side, height: side, maximumPixels: Self.maximumPaddedPixels)
        }
        return try processor(image.paddedToSquare(background: background))
    }

    /// Steps 1–4 for one image.
    /// - Throws: ``VisionError`` from the CLIP processor, ``VisionError/tensor(_:)`` from the resizes.
    public func callAsFunction(_ image: RGBImage) throws(VisionError) -> MGMImageTensors {
        let high = try highResolution(image)
        do {
            return MGMImageTensors(highResolution: high, lowResolution: try lowResolution(fromHighResolution: high))
        } catch {
            throw .tensor(error)
        }
    }

    /// Steps 3–4: the LR views `[V, 3, L, L]` from an HR tensor `[1, 3, S, S]`.
    /// - Throws: ``/MGTensor/TensorError`` when `high` is not `[1, 3, H, W]`.
    public func lowResolution(fromHighResolution high: Tensor) throws(TensorError) -> Tensor {
        guard high.rank == 4, high.shape[0] == 1, high.shape[1] == 3 else {
            throw .invalidArgument(operation: "MGMImagePreprocessor", reason: "HR tensor must be [1, 3, H, W], got \(high.shape)")
        }
        let side = lowResolutionSize
        let whole = try interpolateBilinear(high, size: (side * grid, side * grid))
        guard grid >= 2 else { return whole }
        var views: [Tensor] = []
        for row in 0..<grid {
            let band = try slice(whole, axis: 2, range: (row * side)..<((row + 1) * side))
            for column in 0..<grid {
                views.append(try slice(band, axis: 3, range: (column * side)..<((column + 1) * side)))
            }
        }
        if global { views.append(try interpolateBilinear(whole, size: (side, side))) }
        return try concat(views, axis: 0)
    }
}

extension CLIPImageProcessor {
    /// The OpenAI-constant processor for a known-valid size (used by the presets).
    init(validShortestEdge edge: Int) {
        self.init(
            uncheckedResize: .shortestEdge(edge), crop: (edge, edge), rescaleFactor: 1.0 / 255.0,
            normalization: (Self.openAIMean, Self.openAIStd))
    }
}
