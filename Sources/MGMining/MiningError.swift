import MGTensor

/// Errors of patch info mining and the multimodal projector.
public enum MiningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The low-resolution token count is not a perfect square (tokens must form a p×p grid).
    case tokensNotSquare(count: Int)
    /// The high-resolution map cannot be divided into one M×M block per low-resolution token.
    case blockMismatch(tokensPerSide: Int, mapHeight: Int, mapWidth: Int)
    /// Inputs disagree in batch size, channels or rank.
    case shapeMismatch(String)
    /// A weight the module needs is missing from the checkpoint.
    case missingWeight(String)
    /// A weight has the wrong shape.
    case weightShape(name: String, expected: [Int], actual: [Int])
    /// A weight is stored in a dtype the module cannot compute with.
    case unsupportedWeightDType(name: String, dtype: DType)
    /// A weight exists but cannot be read from the checkpoint.
    case checkpoint(CheckpointError)
    /// Checkpoint tensors under the module's prefix that it does not use.
    case unusedWeights([String])
    /// `mm_projector_type` names a projector this library does not know.
    case unknownProjectorType(String)
    /// An underlying tensor operation failed.
    case tensor(TensorError)

    public var description: String {
        switch self {
        case .tokensNotSquare(let count): "patch mining: \(count) low-resolution tokens do not form a square grid"
        case .blockMismatch(let p, let h, let w): "patch mining: a \(h)×\(w) feature map cannot be split into \(p)×\(p) equal square blocks"
        case .shapeMismatch(let reason): "patch mining: \(reason)"
        case .missingWeight(let name): "missing weight \(name)"
        case .weightShape(let name, let expected, let actual): "weight \(name) has shape \(actual), expected \(expected)"
        case .unsupportedWeightDType(let name, let dtype): "weight \(name) is stored as \(dtype.rawValue), expected F32, F16 or BF16"
        case .checkpoint(let error): "\(error)"
        case .unusedWeights(let names): "checkpoint tensors not used by the mining modules: \(names.joined(separator: ", "))"
        case .unknownProjectorType(let type): "unknown mm_projector_type '\(type)' (known: mlp2x_gelu, mlpNx_gelu, linear, identity)"
        case .tensor(let error): "\(error)"
        }
    }
}

extension MiningError {
    /// The case that reports a weight-reading problem (``/MGTensor/WeightReader``'s errors in this target).
    public static func weight(_ problem: WeightReadError) -> MiningError {
        switch problem {
        case .missing(let name): .missingWeight(name)
        case .shapeMismatch(let name, let expected, let actual): .weightShape(name: name, expected: expected, actual: actual)
        case .unsupportedDType(let name, let dtype): .unsupportedWeightDType(name: name, dtype: dtype)
        case .unreadable(_, let error): .checkpoint(error)
        case .unused(let names): .unusedWeights(names)
        }
    }
}
