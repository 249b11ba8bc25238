import Foundation
import MGTensor

/// Errors thrown by MGVision for input-derived problems: image files, pixel buffers,
/// preprocessing and tower configurations, tower weights and input shapes. Decoding never traps on hostile or damaged data; every failure
/// of libpng or libjpeg arrives here as one of these cases.
public enum VisionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not in a format MGVision decodes. `detected` names a recognised but
    /// unsupported format ("GIF", "WebP", …) or is `nil` when the signature is unknown.
    case unsupportedFormat(detected: String?)
    /// The data ends before the image is complete (Pillow: "image file is truncated").
    case truncatedImage(format: ImageFormat, reason: String)
    /// The data is damaged or invalid for its format (bad CRC, bad Huffman code, bad header, ...).
    case corruptImage(format: ImageFormat, reason: String)
    /// A valid image of its format using a feature the decoder does not handle (e.g. 12-bit JPEG).
    case unsupportedImage(format: ImageFormat, reason: String)
    /// `width × height` exceeds the decoder's `maximumPixels` (checked from the header, before
    /// any pixel memory is allocated).
    case imageTooLarge(width: Int, height: Int, maximumPixels: Int)
    /// The system could not provide memory for the pixels.
    case outOfMemory(format: ImageFormat)
    /// A file could not be read.
    case unreadableFile(path: String, reason: String)
    /// Pixel data and dimensions of an ``RGBImage`` do not agree, or a size is not positive.
    case invalidImage(reason: String)
    /// A preprocessing setting is out of range, or a configuration file (`preprocessor_config.json`,
    /// a CLIP `config.json`, `open_clip_config.json`) is unreadable or describes an impossible model.
    case invalidConfiguration(reason: String)
    /// A model name (OpenCLIP/timm) this library has no architecture for.
    case unknownModel(String)
    /// A tower's configuration and its weights describe different architectures: `field` (e.g.
    /// `widths`) is `configured` in the configuration but `weights` in the tensor shapes.
    case architectureMismatch(field: String, configured: String, weights: String)
    /// A tower's architecture could not be read from its weights (no configuration named a known
    /// model, and the tensors lack or contradict what the architecture needs).
    case architectureNotInferable(String)
    /// An activation name (`hidden_act`) the tower does not implement.
    case unsupportedActivation(String)
    /// A tensor the tower needs is not in the checkpoint.
    case missingWeight(String)
    /// A tensor has a different shape than the configuration implies.
    case weightShape(name: String, expected: [Int], actual: [Int])
    /// Tensors under the tower's prefix that the tower does not know (a mismatched configuration
    /// or key layout); sorted, at most the first few are listed.
    case unusedWeights([String])
    /// The input images of a tower have the wrong shape.
    case invalidInput(expected: String, actual: [Int])
    /// Reading a checkpoint failed.
    case checkpoint(CheckpointError)
    /// A tensor operation used by preprocessing failed.
    case tensor(TensorError)

    public var description: String {
        switch self {
        case .unsupportedFormat(let detected?): "unsupported image format \(detected)"
        case .unsupportedFormat(nil): "unknown image format (neither PNG nor JPEG)"
        case .truncatedImage(let format, let reason): "truncated \(format) image: \(reason)"
        case .corruptImage(let format, let reason): "corrupt \(format) image: \(reason)"
        case .unsupportedImage(let format, let reason): "unsupported \(format) image: \(reason)"
        case .imageTooLarge(let width, let height, let limit):
            "image of \(width)×\(height) pixels exceeds the limit of \(limit) pixels"
        case .outOfMemory(let format): "out of memory decoding a \(format) image"
        case .unreadableFile(let path, let reason): "cannot read \(path): \(reason)"
        case .invalidImage(let reason): "invalid image: \(reason)"
        case .invalidConfiguration(let reason): "invalid vision configuration: \(reason)"
        case .unknownModel(let name): "unknown vision model '\(name)'"
        case .architectureMismatch(let field, let configured, let weights):
            "the tower's configuration says \(field) \(configured) but its weights have \(field) \(weights)"
        case .architectureNotInferable(let reason): "cannot read the tower architecture from its weights: \(reason)"
        case .unsupportedActivation(let name): "unsupported activation '\(name)' (known: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)"
        case .missingWeight(let name): "missing weight \(name)"
        case .weightShape(let name, let expected, let actual): "weight \(name) has shape \(actual), expected \(expected)"
        case .unusedWeights(let names): "checkpoint tensors not used by the tower: \(names.joined(separator: ", "))"
        case .invalidInput(let expected, let actual): "input images must be \(expected), got \(actual)"
        case .checkpoint(let error): "\(error)"
        case .tensor(let error): "tensor operation failed: \(error)"
        }
    }
}

extension VisionError {
    /// The case that reports a weight-reading problem (``/MGTensor/WeightReader``'s errors in this target).
    public static func weight(_ problem: WeightReadError) -> VisionError {
        switch problem {
        case .missing(let name): .missingWeight(name)
        case .shapeMismatch(let name, let expected, let actual): .weightShape(name: name, expected: expected, actual: actual)
        case .unsupportedDType(let name, let dtype): .tensor(.unsupportedDType(operation: "load \(name)", dtype))
        case .unreadable(_, let error): .checkpoint(error)
        case .unused(let names): .unusedWeights(names)
        }
    }

    /// The bytes of a tower's configuration file; one that cannot be read is
    /// ``invalidConfiguration(reason:)`` naming it.
    static func configurationData(contentsOf url: URL) throws(VisionError) -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw .invalidConfiguration(reason: "cannot read \(url.path): \(error.localizedDescription)")
        }
    }
}
