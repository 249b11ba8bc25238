import Foundation
import MGVision

/// What to paint. The defaults are those of Mini-Gemini's reasoning generation: the CLI calls
/// `StableDiffusionXLPipeline` with only the prompt and a fixed negative prompt, so every other
/// value is a diffusers default for SDXL base 1.0 (50 steps, guidance 5.0, 1024×1024), and no
/// seed is fixed.
public struct ImageGenerationRequest: Sendable, Hashable, Codable {
    /// The text-to-image prompt (e.g. ``ImagePromptExtraction/prompt``).
    public var prompt: String
    /// What to steer away from; nil for none.
    public var negativePrompt: String?
    /// Output width in pixels (a positive multiple of 8).
    public var width: Int
    /// Output height in pixels (a positive multiple of 8).
    public var height: Int
    /// Denoising steps.
    public var steps: Int
    /// Classifier-free guidance scale.
    public var guidance: Double
    /// Seed of the initial noise; nil lets the backend draw one (reported in ``GeneratedImage/seed``).
    public var seed: UInt64?

    /// The negative prompt hard-coded in mgm/serve/cli.py and mgm/serve/model_worker.py.
    public static let officialNegativePrompt = "out of frame, lowres, text, error, cropped, worst quality, low quality, jpeg artifacts, ugly, duplicate, morbid, mutilated, out of frame, extra fingers, mutated hands, poorly drawn hands, poorly drawn face, mutation, deformed, blurry, dehydrated, bad anatomy, bad proportions, extra limbs, cloned face, disfigured, gross proportions, malformed limbs, missing arms, missing legs, extra arms, extra legs, fused fingers, too many fingers, long neck, username, watermark, signature"

    public init(
        prompt: String, negativePrompt: String? = ImageGenerationRequest.officialNegativePrompt,
        width: Int = 1024, height: Int = 1024, steps: Int = 50, guidance: Double = 5.0, seed: UInt64? = nil
    ) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.width = width
        self.height = height
        self.steps = steps
        self.guidance = guidance
        self.seed = seed
    }

    /// Largest side accepted by ``validate()``.
    public static let maximumSide = 4096

    /// - Throws: ``ImageGenerationError/invalidRequest(_:)`` for an empty prompt, a side that is
    ///   not a positive multiple of 8 up to ``maximumSide``, fewer than one step or a guidance
    ///   that is not finite.
    public func validate() throws(ImageGenerationError) {
        guard prompt.contains(where: { !$0.isWhitespace }) else { throw .invalidRequest("the prompt is empty") }
        for (name, side) in [("width", width), ("height", height)] {
            guard side > 0, side % 8 == 0, side <= Self.maximumSide else {
                throw .invalidRequest("\(name) \(side) must be a positive multiple of 8, at most \(Self.maximumSide)")
            }
        }
        guard steps >= 1 else { throw .invalidRequest("steps must be at least 1, got \(steps)") }
        guard guidance.isFinite else { throw .invalidRequest("guidance must be finite") }
    }
}

/// A finished image.
public struct GeneratedImage: Sendable, Hashable {
    /// The image as a PNG file.
    public var pngData: Data
    public var width: Int
    public var height: Int
    /// The seed that produced it (drawn by the backend when the request had none).
    public var seed: UInt64
    /// Seconds spent loading the model for this image (0 when it was already loaded).
    public var loadSeconds: Double
    /// Seconds spent denoising, decoding and encoding the image.
    public var generationSeconds: Double

    public init(pngData: Data, width: Int, height: Int, seed: UInt64, loadSeconds: Double = 0, generationSeconds: Double = 0) {
        self.pngData = pngData
        self.width = width
        self.height = height
        self.seed = seed
        self.loadSeconds = loadSeconds
        self.generationSeconds = generationSeconds
    }

    /// The decoded pixels.
    /// - Throws: ``ImageGenerationError/invalidOutput(_:)`` when the PNG cannot be decoded.
    public func rgbImage() throws(ImageGenerationError) -> RGBImage {
        do { return try ImageDecoder().decode(pngData) } catch { throw .invalidOutput("\(error)") }
    }

    /// Writes the PNG to `path`.
    /// - Throws: ``ImageGenerationError/outputNotWritable(path:reason:)``.
    public func write(to path: String) throws(ImageGenerationError) {
        do { try pngData.write(to: URL(fileURLWithPath: path)) } catch {
            throw .outputNotWritable(path: path, reason: error.localizedDescription)
        }
    }
}

/// Where a generation stands, reported while it runs.
public enum ImageGenerationProgress: Sendable, Hashable {
    /// The backend is starting or loading the model.
    case loading(model: String)
    /// The model is loaded (after `seconds`).
    case loaded(seconds: Double)
    /// Denoising step `step` of `total` is done (1-based).
    case step(step: Int, total: Int)
    /// The latents are being decoded into pixels.
    case decoding
}

/// A text-to-image model: a prompt and settings in, an image out.
///
/// Implementations report progress through the closure (called from any thread, in order) and
/// stop promptly when the calling task is cancelled, throwing ``ImageGenerationError/cancelled``.
///
/// ```swift
/// let generator: any ImageGenerator = DiffusersImageGenerator()
/// let image = try await generator.generate(ImageGenerationRequest(prompt: prompt, seed: 42)) { event in
///     if case .step(let step, let total) = event { print("step \(step)/\(total)") }
/// }
/// try image.write(to: "generate.png")
/// ```
public protocol ImageGenerator: Sendable {
    /// Renders one image.
    /// - Throws: ``ImageGenerationError``.
    func generate(
        _ request: ImageGenerationRequest, progress: @escaping @Sendable (ImageGenerationProgress) -> Void
    ) async throws(ImageGenerationError) -> GeneratedImage
}

extension ImageGenerator {
    /// Renders one image without progress reports.
    public func generate(_ request: ImageGenerationRequest) async throws(ImageGenerationError) -> GeneratedImage {
        try await generate(request, progress: { _ in })
    }
}
