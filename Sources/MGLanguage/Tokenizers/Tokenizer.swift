/// Text ↔ token ids, byte-exact with the reference tokenizer a model was trained with.
///
/// Two implementations cover the Mini-Gemini releases:
/// - ``SentencePieceTokenizer`` reads `tokenizer.model` and behaves like HF transformers' slow
///   `LlamaTokenizer` (MGM-7B/13B load Vicuna's tokenizer with `use_fast=False`).
/// - ``TokenizerJSON`` reads an HF `tokenizer.json` and behaves like the `tokenizers` library
///   (MGM-8B's Llama-3 vocabulary, and the fast tokenizers of the other releases).
///
/// Use ``TokenizerLoader/load(directory:useFast:)`` to pick one the way HF's `AutoTokenizer` does.
///
/// ```swift
/// let tokenizer = try TokenizerLoader.load(directory: checkpoint, useFast: false)
/// let ids = tokenizer.encode("USER: Hello ASSISTANT:")   // BOS first
/// let text = tokenizer.decode(ids, skipSpecialTokens: true)
/// ```
public protocol Tokenizer: Sendable {
    /// Token ids of `text`.
    /// - Parameters:
    ///   - text: Any string; special tokens written in it (such as `</s>` or `<|eot_id|>`) are
    ///     recognised and become their ids, as in the reference libraries.
    ///   - addSpecialTokens: Whether to add what the tokenizer adds around a sequence (BOS).
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int]

    /// Text of `ids`. Ids outside the vocabulary are skipped.
    /// - Parameters:
    ///   - ids: Token ids.
    ///   - skipSpecialTokens: Leave out special tokens (BOS, EOS, …) from the text.
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String

    /// Id of the beginning-of-sequence token, if the tokenizer has one.
    var bosTokenID: Int? { get }
    /// Id of the end-of-sequence token, if known.
    var eosTokenID: Int? { get }
    /// Number of ids (the largest id plus one, added tokens included).
    var vocabularySize: Int { get }

    /// Id of a vocabulary entry (piece or added token), or `nil`.
    func tokenID(for token: String) -> Int?
    /// Vocabulary entry of an id (the raw piece, e.g. `▁Hello` or `<0x0A>`), or `nil`.
    func token(for id: Int) -> String?
    /// Whether `id` is a special token (removed by `skipSpecialTokens`).
    func isSpecialToken(_ id: Int) -> Bool
}

extension Tokenizer {
    /// Token ids of `text` with the tokenizer's special tokens (BOS) added.
    public func encode(_ text: String) -> [Int] { encode(text, addSpecialTokens: true) }

    /// Text of `ids`, special tokens included.
    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecialTokens: false) }
}

/// HF transformers' `clean_up_tokenization`: removes the space before some punctuation and
/// English contractions. Applied by decoders whose config sets `clean_up_tokenization_spaces`.
func cleanUpTokenizationSpaces(_ text: String) -> String {
    var result = text
    for (pattern, replacement) in [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
        (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ] {
        result = result.replacingScalars(of: pattern, with: replacement)
    }
    return result
}

extension String {
    /// Replaces every occurrence of `target` (compared by Unicode scalars, not graphemes).
    func replacingScalars(of target: String, with replacement: String) -> String {
        let source = Array(unicodeScalars), pattern = Array(target.unicodeScalars)
        guard !pattern.isEmpty, source.count >= pattern.count else { return self }
        var output = String.UnicodeScalarView()
        var index = 0
        while index < source.count {
            if index + pattern.count <= source.count, source[index..<(index + pattern.count)].elementsEqual(pattern) {
                output.append(contentsOf: replacement.unicodeScalars)
                index += pattern.count
            } else {
                output.append(source[index])
                index += 1
            }
        }
        return String(output)
    }
}
