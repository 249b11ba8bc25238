/// Errors thrown while loading a tokenizer from its files.
///
/// Encoding and decoding never throw: every string has an encoding and unknown ids are skipped
/// when decoding, as the reference libraries do.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A tokenizer file could not be read.
    case fileNotReadable(path: String)
    /// `tokenizer.model` is not a valid SentencePiece `ModelProto`.
    case invalidModelProto(reason: String)
    /// `tokenizer.json` or `tokenizer_config.json` is not valid JSON or lacks a required field.
    case invalidJSON(reason: String)
    /// The file asks for a feature this implementation does not provide (named by `feature`).
    case unsupported(feature: String)
    /// A token the configuration refers to is not in the vocabulary.
    case unknownToken(String)

    public var description: String {
        switch self {
        case .fileNotReadable(let path): "cannot read tokenizer file \(path)"
        case .invalidModelProto(let reason): "invalid SentencePiece model: \(reason)"
        case .invalidJSON(let reason): "invalid tokenizer JSON: \(reason)"
        case .unsupported(let feature): "unsupported tokenizer feature: \(feature)"
        case .unknownToken(let token): "token \(token) is not in the vocabulary"
        }
    }
}
