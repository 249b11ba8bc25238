import Foundation
import MGTensor

/// The `normalizer` stage of `tokenizer.json` (tokenizers' `normalizers` module).
enum TextNormalizer: Sendable {
    case sequence([TextNormalizer])
    /// Prepends a string to non-empty text (Llama-2's "▁" dummy prefix).
    case prepend(String)
    /// Replaces every occurrence of a literal string.
    case replace(pattern: String, content: String)
    case nfc, nfd, nfkc, nfkd
    case lowercase
    /// Removes whitespace (Rust `char::is_whitespace`) from the chosen ends.
    case strip(left: Bool, right: Bool)

    init(json: JSONValue) throws(TokenizerError) {
        guard let type = json["type"]?.string else { throw .invalidJSON(reason: "normalizer without a type") }
        switch type {
        case "Sequence":
            guard let items = json["normalizers"]?.array else { throw .invalidJSON(reason: "Sequence without normalizers") }
            var normalizers: [TextNormalizer] = []
            for item in items { normalizers.append(try TextNormalizer(json: item)) }
            self = .sequence(normalizers)
        case "Prepend":
            guard let prefix = json["prepend"]?.string else { throw .invalidJSON(reason: "Prepend without prepend") }
            self = .prepend(prefix)
        case "Replace":
            self = .replace(pattern: try literalPattern(json["pattern"], in: "Replace normalizer"),
                            content: json["content"]?.string ?? "")
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Strip": self = .strip(left: json["strip_left"]?.bool ?? true, right: json["strip_right"]?.bool ?? true)
        default: throw .unsupported(feature: "normalizer \(type)")
        }
    }

    func normalize(_ text: String) -> String {
        switch self {
        case .sequence(let normalizers): normalizers.reduce(text) { $1.normalize($0) }
        case .prepend(let prefix): text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content): text.replacingScalars(of: pattern, with: content)
        case .nfc: text.precomposedStringWithCanonicalMapping
        case .nfd: text.decomposedStringWithCanonicalMapping
        case .nfkc: text.precomposedStringWithCompatibilityMapping
        case .nfkd: text.decomposedStringWithCompatibilityMapping
        case .lowercase: text.lowercased()
        case .strip(let left, let right):
            String(scalars: Self.strip(Array(text.unicodeScalars), left: left, right: right))
        }
    }

    private static func strip(_ scalars: [Unicode.Scalar], left: Bool, right: Bool) -> ArraySlice<Unicode.Scalar> {
        var slice = scalars[...]
        if left { slice = slice.drop(while: \.isRustWhitespace) }
        if right { while let last = slice.last, last.isRustWhitespace { slice = slice.dropLast() } }
        return slice
    }
}

/// The literal of a `{"String": …}` pattern; regex patterns are only supported where a
/// hand-written matcher exists (the pre-tokenizer's Split).
func literalPattern(_ json: JSONValue?, in context: String) throws(TokenizerError) -> String {
    if let literal = json?["String"]?.string { return literal }
    if let regex = json?["Regex"]?.string { throw .unsupported(feature: "regex pattern \(regex) in \(context)") }
    throw .invalidJSON(reason: "\(context) without a pattern")
}
