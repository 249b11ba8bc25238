import MGTensor

/// Errors of MGLanguage's decoders, KV caches and generation loop.
///
/// Every case names what went wrong with the values a user needs to fix it: the configuration
/// key, the weight name and both shapes, the cache capacity and the length asked for.
public enum LanguageModelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `config.json`'s `model_type` is not one of the supported decoder families.
    case unsupportedModelType(String)
    /// A configuration value is missing, of the wrong type, or contradicts another one.
    case invalidConfiguration(key: String, reason: String)
    /// A weight the model needs is not in the checkpoint.
    case missingWeight(String)
    /// A weight's shape disagrees with the configuration.
    case weightShapeMismatch(key: String, expected: [Int], actual: [Int])
    /// A weight is stored in a dtype the decoder cannot compute with (only F32, F16, BF16).
    case unsupportedWeightDType(key: String, dtype: DType)
    /// The checkpoint holds tensors no part of the model uses (sorted; already filtered by the
    /// loader's ignore list). Thrown only when the loader is strict about unused weights.
    case unusedWeights([String])
    /// Appending `required` positions would exceed the cache's preallocated `capacity`.
    case cacheOverflow(required: Int, capacity: Int)
    /// The cache was made for a different model shape (layers, kv heads or head dimension).
    case cacheMismatch(reason: String)
    /// A token id outside `0..<vocabularySize`.
    case invalidTokenID(Int, vocabularySize: Int)
    /// The input to a forward pass or a generation request is malformed.
    case invalidInput(String)
    /// A generation parameter is out of range.
    case invalidParameter(name: String, reason: String)
    /// A tensor operation failed (an internal shape error or an invalid argument).
    case tensor(TensorError)
    /// Reading the checkpoint failed.
    case checkpoint(CheckpointError)

    public var description: String {
        switch self {
        case .unsupportedModelType(let type):
            "unsupported model_type \"\(type)\" (supported: \(DecoderFamily.registry.keys.sorted().joined(separator: ", ")))"
        case .invalidConfiguration(let key, let reason): "invalid configuration \(key): \(reason)"
        case .missingWeight(let key): "checkpoint has no weight \(key)"
        case .weightShapeMismatch(let key, let expected, let actual):
            "weight \(key) has shape \(actual), the configuration expects \(expected)"
        case .unsupportedWeightDType(let key, let dtype): "weight \(key) is stored as \(dtype), expected F32, F16 or BF16"
        case .unusedWeights(let names):
            "checkpoint has \(names.count) unused weight(s): \(names.prefix(8).joined(separator: ", "))\(names.count > 8 ? ", …" : "")"
        case .cacheOverflow(let required, let capacity):
            "the KV cache holds \(capacity) positions, \(required) are needed"
        case .cacheMismatch(let reason): "KV cache does not fit the model: \(reason)"
        case .invalidTokenID(let id, let vocabularySize): "token id \(id) is outside 0..<\(vocabularySize)"
        case .invalidInput(let reason): "invalid input: \(reason)"
        case .invalidParameter(let name, let reason): "invalid generation parameter \(name): \(reason)"
        case .tensor(let error): "tensor operation failed: \(error)"
        case .checkpoint(let error): "checkpoint error: \(error)"
        }
    }
}

extension LanguageModelError {
    /// The case that reports a weight-reading problem (``/MGTensor/WeightReader``'s errors in this target).
    public static func weight(_ problem: WeightReadError) -> LanguageModelError {
        switch problem {
        case .missing(let name): .missingWeight(name)
        case .shapeMismatch(let name, let expected, let actual): .weightShapeMismatch(key: name, expected: expected, actual: actual)
        case .unsupportedDType(let name, let dtype): .unsupportedWeightDType(key: name, dtype: dtype)
        case .unreadable(_, let error): .checkpoint(error)
        case .unused(let names): .unusedWeights(names)
        }
    }
}
