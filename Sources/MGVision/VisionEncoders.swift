import MGTensor

// The contract between Mini-Gemini's two vision towers and whatever consumes them (patch info
// mining, the pipeline), the errors the towers throw, and the checked weight reader they share.

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
    func encode(_ pixels: Tensor) throws -> Tensor
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
    func encode(_ pixels: Tensor) throws -> Tensor
}

// MARK: - Errors

/// Errors of the vision towers: configuration, weight loading and input shapes.
public enum VisionTowerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A configuration file could not be read or decoded, or describes an impossible model.
    case invalidConfiguration(String)
    /// A model name (OpenCLIP/timm) this library has no architecture for.
    case unknownModel(String)
    /// An activation name (`hidden_act`) the tower does not implement.
    case unsupportedActivation(String)
    /// A tensor the tower needs is not in the checkpoint.
    case missingWeight(String)
    /// A tensor has a different shape than the configuration implies.
    case weightShape(name: String, expected: [Int], actual: [Int])
    /// Tensors under the tower's prefix that the tower does not know (a mismatched configuration
    /// or key layout); sorted, at most the first few are listed.
    case unusedWeights([String])
    /// The input images have the wrong shape.
    case invalidInput(expected: String, actual: [Int])
    /// Reading the checkpoint failed.
    case checkpoint(CheckpointError)
    /// A tensor operation failed.
    case tensor(TensorError)

    public var description: String {
        switch self {
        case .invalidConfiguration(let reason): "vision tower configuration: \(reason)"
        case .unknownModel(let name): "unknown vision model '\(name)'"
        case .unsupportedActivation(let name): "unsupported activation '\(name)' (known: quick_gelu, gelu, gelu_new, gelu_pytorch_tanh)"
        case .missingWeight(let name): "missing weight \(name)"
        case .weightShape(let name, let expected, let actual): "weight \(name) has shape \(actual), expected \(expected)"
        case .unusedWeights(let names): "checkpoint tensors not used by the tower: \(names.joined(separator: ", "))"
        case .invalidInput(let expected, let actual): "input images must be \(expected), got \(actual)"
        case .checkpoint(let error): "\(error)"
        case .tensor(let error): "\(error)"
        }
    }
}

// MARK: - Checked weight reading

/// Reads a tower's tensors from a store, checking each shape and remembering which names were
/// used, so loading can end with the mlx-style verification: every expected tensor present with
/// its shape, and no unknown tensor left under the tower's prefixes.
final class TowerWeightReader {
    let store: any WeightStore
    private var used = Set<String>()

    init(_ store: any WeightStore) {
        self.store = store
    }

    /// The tensor `name` (kept in its stored dtype), which must have `shape`.
    func tensor(_ name: String, shape: [Int]) throws(VisionTowerError) -> Tensor {
        guard store.contains(name) else { throw .missingWeight(name) }
        let tensor: Tensor
        do {
            tensor = try store.tensor(named: name)
        } catch {
            throw .checkpoint(error)
        }
        guard tensor.shape == shape else { throw .weightShape(name: name, expected: shape, actual: tensor.shape) }
        guard tensor.dtype.isFloatingPointCompute else {
            throw .tensor(.unsupportedDType(operation: "load \(name)", tensor.dtype))
        }
        used.insert(name)
        return tensor
    }

    /// Marks `name` as deliberately skipped (e.g. a layer after the selected one).
    func skip(_ name: String) {
        used.insert(name)
    }

    /// Throws ``VisionTowerError/unusedWeights(_:)`` when a name under one of `prefixes` was neither
    /// read nor skipped and `isIgnorable` does not accept it.
    func verifyAllUsed(under prefixes: [String], isIgnorable: (String) -> Bool = { _ in false }) throws(VisionTowerError) {
        var unused = [String]()
        for prefix in prefixes {
            for name in store.names(withPrefix: prefix) where !used.contains(name) && !isIgnorable(name) {
                unused.append(name)
            }
        }
        guard unused.isEmpty else { throw .unusedWeights(Array(unused.sorted().prefix(8))) }
    }
}

/// Runs a tensor operation, wrapping its error as ``VisionTowerError/tensor(_:)``.
@inline(__always)
func tensorOp<T>(_ body: () throws(TensorError) -> T) throws(VisionTowerError) -> T {
    do {
        return try body()
    } catch {
        throw .tensor(error)
    }
}
