import Foundation
import MGTensor

/// An HF `tokenizer.json`, run as the `tokenizers` library runs it: added tokens are split out
/// of the raw text, every other segment goes through normalizer → pre-tokenizer → BPE model,
/// then the post-processor adds BOS. Decoding maps ids to token strings and runs the decoder.
///
/// Supported stages are those of the Llama-2/Llama-3/Mistral/Gemma-style files: normalizers
/// Sequence, Prepend, Replace, NFC/NFD/NFKC/NFKD, Lowercase, Strip; pre-tokenizers Sequence,
/// Split (the Llama-3 and GPT-2 regexes or a literal), ByteLevel, Metaspace; the BPE model
/// (byte fallback, `ignore_merges`, `fuse_unk`); post-processors TemplateProcessing, ByteLevel,
/// Sequence; decoders ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
/// Anything else throws ``TokenizerError/unsupported(feature:)`` at load time.
public final class TokenizerJSON: Tokenizer {
    /// Settings that live in `tokenizer_config.json`, not in `tokenizer.json`.
    public struct Options: Sendable {
        /// BOS token; when `nil`, the first special token of the post-processor template.
        public var bosToken: String?
        /// EOS token; `tokenizer.json` alone does not name one.
        public var eosToken: String?
        /// transformers' `clean_up_tokenization_spaces` applied after decoding.
        public var cleanUpTokenizationSpaces = false

        public init(bosToken: String? = nil, eosToken: String? = nil, cleanUpTokenizationSpaces: Bool = false) {
            self.bosToken = bosToken
            self.eosToken = eosToken
            self.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces
        }
    }

    let model: BPEModel
    let normalizer: TextNormalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    let options: Options
    private let addedTokens: [AddedToken]
    private let addedByContent: [ExactKey: Int]
    private let addedByID: [Int: AddedToken]
    private let specialContents: Set<ExactKey>
    /// Added tokens matched in the raw text, and those matched after normalisation.
    private let rawTokens: [AddedToken], normalizedTokens: [AddedToken]
    private let rawMatcher: AddedTokenMatcher, normalizedMatcher: AddedTokenMatcher
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let vocabularySize: Int

    /// Loads `tokenizer.json`.
    public convenience init(url: URL, options: Options = Options()) throws(TokenizerError) {
        guard let data = try? Data(contentsOf: url) else { throw .fileNotReadable(path: url.path) }
        try self.init(json: [UInt8](data), options: options)
    }

    /// Parses the bytes of a `tokenizer.json`.
    /// - Throws: ``TokenizerError/invalidJSON(reason:)``, ``TokenizerError/unsupported(feature:)``,
    ///   or ``TokenizerError/unknownToken(_:)`` for a BOS/EOS name that is not in the vocabulary.
    public init(json bytes: [UInt8], options: Options = Options()) throws(TokenizerError) {
        let root = try parseTokenizerJSON(bytes)
        guard let modelJSON = root["model"] else { throw .invalidJSON(reason: "no model") }
        let bpe = try BPEModel(json: modelJSON)
        model = bpe
        normalizer = try root["normalizer"].flatMap { json throws(TokenizerError) in json.isNull ? nil : try TextNormalizer(json: json) }
        preTokenizer = try root["pre_tokenizer"].flatMap { json throws(TokenizerError) in json.isNull ? nil : try PreTokenizer(json: json) }
        postProcessor = try root["post_processor"].flatMap { json throws(TokenizerError) in json.isNull ? nil : try PostProcessor(json: json) }
        decoder = try root["decoder"].flatMap { json throws(TokenizerError) in json.isNull ? nil : try TokenDecoder(json: json) }
        self.options = options

        var added: [AddedToken] = []
        for entry in root["added_tokens"]?.array ?? [] {
            guard let content = entry["content"]?.string, let id = entry["id"]?.integer else {
                throw .invalidJSON(reason: "added token without content or id")
            }
            // The vocabulary size is the largest id plus one; ids far past the model's are refused.
            guard id >= 0, id < bpe.tokens.count + BPEModel.maximumIDGap else {
                throw .invalidJSON(reason: "added token \(content) has id \(id), far beyond the \(bpe.tokens.count) model tokens")
            }
            added.append(AddedToken(
                content: content, id: id, special: entry["special"]?.bool ?? false, lstrip: entry["lstrip"]?.bool ?? false,
                rstrip: entry["rstrip"]?.bool ?? false, singleWord: entry["single_word"]?.bool ?? false,
                normalized: entry["normalized"]?.bool ?? !(entry["special"]?.bool ?? false)))
        }
        addedTokens = added
        let byContent = Dictionary(added.map { (ExactKey($0.content), $0.id) }, uniquingKeysWith: { _, last in last })
        addedByContent = byContent
        addedByID = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
        specialContents = Set(added.filter(\.special).map { ExactKey($0.content) })
        rawTokens = added.filter { !$0.normalized }
        normalizedTokens = added.filter(\.normalized)
        rawMatcher = AddedTokenMatcher(rawTokens.map(\.content))
        normalizedMatcher = AddedTokenMatcher(normalizedTokens.map(\.content))

        func id(of name: String?) throws(TokenizerError) -> Int? {
            guard let name else { return nil }
            guard let id = byContent[exact: name] ?? bpe.vocabulary[exact: name] else { throw .unknownToken(name) }
            return id
        }
        let processor = postProcessor
        bosTokenID = try id(of: options.bosToken) ?? processor?.firstPrefixID
        eosTokenID = try id(of: options.eosToken)
        vocabularySize = max(bpe.tokens.count, (added.map(\.id).max() ?? -1) + 1)
    }

    public func tokenID(for token: String) -> Int? { addedByContent[exact: token] ?? model.vocabulary[exact: token] }

    public func token(for id: Int) -> String? { addedByID[id]?.content ?? model.token(for: id) }

    public func isSpecialToken(_ id: Int) -> Bool { addedByID[id]?.special ?? false }

    // MARK: - Encoding

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids: [Int] = []
        let scalars = Array(text.unicodeScalars)
        for segment in split(scalars, tokens: rawTokens, matcher: rawMatcher) {
            if let token = segment.token {
                ids.append(token.id)
                continue
            }
            let original = String(scalars: scalars[segment.range])
            let normalized = normalizer?.normalize(original) ?? original
            let isFirst = segment.range.lowerBound == 0
            let normalizedScalars = Array(normalized.unicodeScalars)
            for part in split(normalizedScalars, tokens: normalizedTokens, matcher: normalizedMatcher) {
                if let token = part.token {
                    ids.append(token.id)
                    continue
                }
                let piece = PreToken(text: String(scalars: normalizedScalars[part.range]),
                                     isFirst: isFirst && part.range.lowerBound == 0)
                for word in preTokenizer?.preTokenize([piece]) ?? [piece] { model.tokenize(word.text, into: &ids) }
            }
        }
        return addSpecialTokens ? postProcessor?.process(ids) ?? ids : ids
    }

    /// `AddedVocabulary::find_matches`: leftmost-longest matches with the single_word, lstrip and
    /// rstrip rules, and the text between them (empty pieces dropped).
    private func split(
        _ scalars: [Unicode.Scalar], tokens: [AddedToken], matcher: AddedTokenMatcher
    ) -> [(range: Range<Int>, token: AddedToken?)] {
        var result: [(range: Range<Int>, token: AddedToken?)] = []
        var cursor = 0
        for match in matcher.matches(in: scalars) {
            let token = tokens[match.token]
            var start = match.range.lowerBound, end = match.range.upperBound
            if token.singleWord {
                let startsWord = start == 0 || !scalars[start - 1].isWordCharacter
                let endsWord = end == scalars.count || !scalars[end].isWordCharacter
                if !startsWord || !endsWord { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > 0, scalars[newStart - 1].isRustWhitespace { newStart -= 1 }
                start = max(newStart, cursor)
            }
            if token.rstrip {
                while end < scalars.count, scalars[end].isRustWhitespace { end += 1 }
            }
            if cursor < start { result.append((cursor..<start, nil)) }
            result.append((start..<end, token))
            cursor = end
        }
        if cursor < scalars.count { result.append((cursor..<scalars.count, nil)) }
        return result
    }

    // MARK: - Decoding

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            guard let token = token(for: id) else { continue }
            if skipSpecialTokens && specialContents.contains(ExactKey(token)) { continue }
            tokens.append(token)
        }
        let text = decoder.map { $0.decodeChain(tokens).joined() } ?? tokens.joined(separator: " ")
        return options.cleanUpTokenizationSpaces ? cleanUpTokenizationSpaces(text) : text
    }
}

extension Unicode.Scalar {
    /// Rust regex `\w` (alphabetic, marks, decimal digits, connector punctuation, join controls).
    var isWordCharacter: Bool {
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}

/// Parses a tokenizer JSON file (`tokenizer.json`, `tokenizer_config.json`) with the package's
/// one JSON parser, reporting malformed text as ``TokenizerError/invalidJSON(reason:)``.
func parseTokenizerJSON(_ bytes: [UInt8]) throws(TokenizerError) -> JSONValue {
    do {
        return try StrictJSONParser.parse(bytes)
    } catch {
        throw .invalidJSON(reason: error.description)
    }
}
