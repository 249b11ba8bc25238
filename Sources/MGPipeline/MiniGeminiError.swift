import MGLanguage
import MGMining
import MGTensor
import MGVision

/// Errors of loading and running a Mini-Gemini checkpoint. Each case names what is wrong and
/// where, so a command-line tool can print it as one line.
public enum MiniGeminiError: Error, Sendable, CustomStringConvertible {
    /// `config.json` is missing, unreadable, or lacks / contradicts a field Mini-Gemini needs.
    case invalidConfiguration(path: String, reason: String)
    /// A vision tower folder named by the configuration was not found; `searched` lists every
    /// place that was tried, in order.
    case towerNotFound(role: String, configured: String, searched: [String])
    /// A required file is missing from a folder (e.g. `preprocessor_config.json` of the CLIP tower).
    case missingFile(path: String)
    /// The towers, the mining modules, the projector and the language model disagree on a size.
    case incompatibleComponents(String)
    /// The request cannot be served as asked (e.g. more `<image>` placeholders than images).
    case invalidRequest(String)
    /// The spliced prompt does not fit in the model's context window.
    case promptTooLong(tokens: Int, limit: Int)
    /// A request exceeds a configured limit (``MiniGeminiLimits``).
    case limitExceeded(what: String, value: Int, limit: Int)
    /// The request was cancelled.
    case cancelled
    /// A checkpoint file is malformed.
    case checkpoint(CheckpointError)
    /// Image decoding, preprocessing or a vision tower failed.
    case vision(VisionError)
    /// Patch info mining or the projector failed.
    case mining(MiningError)
    /// The tokenizer files could not be loaded.
    case tokenizer(TokenizerError)
    /// The language model failed to load or run.
    case language(LanguageModelError)
    /// A tensor operation failed.
    case tensor(TensorError)
    /// Writing an output (a dump) failed.
    case output(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let path, let reason): "invalid configuration \(path): \(reason)"
        case .towerNotFound(let role, let configured, let searched):
            "\(role) tower '\(configured)' not found; looked in: \(searched.joined(separator: ", ")) (pass its folder explicitly to override)"
        case .missingFile(let path): "missing file \(path)"
        case .incompatibleComponents(let reason): "incompatible model components: \(reason)"
        case .invalidRequest(let reason): "invalid request: \(reason)"
        case .promptTooLong(let tokens, let limit): "prompt of \(tokens) positions (text and image tokens) exceeds the context of \(limit)"
        case .limitExceeded(let what, let value, let limit): "\(what) is \(value), above the limit of \(limit)"
        case .cancelled: "cancelled"
        case .checkpoint(let error): "\(error)"
        case .vision(let error): "\(error)"
        case .mining(let error): "\(error)"
        case .tokenizer(let error): "\(error)"
        case .language(let error): "\(error)"
        case .tensor(let error): "\(error)"
        case .output(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}
