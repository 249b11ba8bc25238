import MGTensor

// The contract between Mini-Gemini's two vision towers and whatever consumes them (patch info
// mining, the pipeline), and the checked weight reader the towers share.

// MARK: - Encoder protocols

/// An encoder that turns low-resolution images into a sequence of visual tokens, like the CLIP
/// ViT of Mini-Gemini (``CLIPVisionTower``).
///
/// Tokens are in row-major patch-grid order, so a miner can pair token `r·p + c` with the
/// high-resolution cells under patch `(r, c)`.
///
/// ```swift
/// let tokens = try encoder.encode(pixels)   // [N, tokenCount, tokenSize]
/// ```
public protocol LowResolutionTokenEncoder: Sendable {
    /// The side of the square input images, in pixels (336 for CLIP ViT-L/14-336).
    var imageSize: Int { get }
    /// The width of one token (1024 for ViT-L).
    var tokenSize: Int { get }
    /// The number of tokens per image (576 for ViT-L/14-336 patch features).
    var tokenCount: Int { get }

    /// Encodes a batch of normalised images.
    /// - Parameter pixels: `[N, 3, imageSize, imageSize]`, any float dtype.
    /// - Returns: `[N, tokenCount, tokenSize]` in F32.
    func encode(_ pixels: Tensor) throws(VisionError) -> Tensor
}

/// An encoder that turns high-resolution images into a dense feature map, like the OpenCLIP
/// ConvNeXt of Mini-Gemini (``ConvNeXtTower``).
///
/// ```swift
/// let map = try encoder.encode(pixels)   // [N, channels, H / featureStride, W / featureStride]
/// ```
public protocol HighResolutionFeatureEncoder: Sendable {
    /// The channel count of the feature map (2880 for ConvNeXt-L's four fused stages).
    var channels: Int { get }
    /// The ratio between input and feature-map size (4 for ConvNeXt).
    var featureStride: Int { get }

    /// Encodes a batch of normalised images.
    /// - Parameter pixels: `[N, 3, H, W]`, any float dtype.
    /// - Returns: `[N, channels, H / featureStride, W / featureStride]` in F32.
    func encode(_ pixels: Tensor) throws(VisionError) -> Tensor
}
