import Foundation

/// HF transformers' slow `LlamaTokenizer` (4.36–4.40, the versions MGM pins) over a SentencePiece
/// `tokenizer.model`.
///
/// Encoding first splits the text at added tokens (the special tokens `<unk>`, `<s>`, `</s>` and
/// any from `added_tokens_decoder`), then encodes every other chunk with SentencePiece on its own.
/// With `legacy: true` (Vicuna's `tokenizer_config.json`) each chunk gets the dummy-prefix "▁"
/// again, so `"Hello </s> world"` encodes `" world"` as `▁ ▁world`; with `legacy: false` only the
/// start of the whole text gets one. `decode` reproduces `convert_tokens_to_string`, including
/// the space legacy mode writes before a special token.
public final class SentencePieceTokenizer: Tokenizer {
    /// The `tokenizer_config.json` settings the slow tokenizer reads.
    public struct Options: Sendable {
        public var addBOS = true
        public var addEOS = false
        public var legacy = true
        public var addPrefixSpace = true
        public var bosToken: String? = "<s>"
        public var eosToken: String? = "</s>"
        public var unknownToken: String? = "<unk>"
        public var padToken: String?
        public var additionalSpecialTokens: [String] = []
        /// Entries of `added_tokens_decoder`; the special tokens above are added when missing.
        public var addedTokens: [AddedToken] = []
        /// transformers' `_decode` joins added non-special tokens with spaces by default.
        public var spacesBetweenSpecialTokens = true
        public var cleanUpTokenizationSpaces = false

        public init() {}
    }

    public let model: SentencePieceModel
    public let options: Options
    /// The model HF actually runs: without the dummy prefix when `legacy` is false.
    private let runtimeModel: SentencePieceModel
    private let addedTokens: [AddedToken]
    private let addedByContent: [ExactKey: AddedToken]
    private let addedByID: [Int: AddedToken]
    private let matcher: AddedTokenMatcher
    private let specialContents: Set<ExactKey>
    private let specialIDs: Set<Int>
    /// Pieces of the unknown token, dropped again after the non-legacy `<unk>` prefix trick.
    private let unknownTokenLength: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let vocabularySize: Int

    /// Loads `tokenizer.model` with the given options.
    public convenience init(modelURL: URL, options: Options = Options()) throws(TokenizerError) {
        try self.init(model: SentencePieceModel(contentsOf: modelURL), options: options)
    }

    /// - Throws: ``TokenizerError/unknownToken(_:)`` if a special token is neither a piece nor an added token.
    public init(model: SentencePieceModel, options: Options = Options()) throws(TokenizerError) {
        self.model = model
        self.options = options
        var runtime = model
        if !options.legacy { runtime.normalizerSpec.addDummyPrefix = false }
        runtimeModel = runtime

        var added = options.addedTokens
        let specialNames = [options.bosToken, options.eosToken, options.unknownToken, options.padToken]
            .compactMap { $0 } + options.additionalSpecialTokens
        for name in specialNames where !added.contains(where: { $0.content == name }) {
            guard let id = model.exactID(of: name) else { throw .unknownToken(name) }
            added.append(AddedToken(content: name, id: id, special: true))
        }
        addedTokens = added
        let byContent = Dictionary(added.map { (ExactKey($0.content), $0) }, uniquingKeysWith: { first, _ in first })
        addedByContent = byContent
        addedByID = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        matcher = AddedTokenMatcher(added.map(\.content))
        specialContents = Set(specialNames.map(ExactKey.init))
        specialIDs = Set(specialNames.compactMap { byContent[exact: $0]?.id })
        unknownTokenLength = options.unknownToken.map { runtime.encode($0).count } ?? 0
        bosTokenID = options.bosToken.flatMap { byContent[exact: $0]?.id }
        eosTokenID = options.eosToken.flatMap { byContent[exact: $0]?.id }
        vocabularySize = max(model.count, (added.map(\.id).max() ?? -1) + 1)
    }

    public func tokenID(for token: String) -> Int? { addedByContent[exact: token]?.id ?? model.exactID(of: token) }

    public func token(for id: Int) -> String? {
        if let added = addedByID[id] { return added.content }
        return id >= 0 && id < model.count ? model.pieces[id] : nil
    }

    public func isSpecialToken(_ id: Int) -> Bool { specialIDs.contains(id) }

    // MARK: - Encoding

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        var ids = tokenize(text)
        if addSpecialTokens {
            if options.addBOS, let bosTokenID { ids.insert(bosTokenID, at: 0) }
            if options.addEOS, let eosTokenID { ids.append(eosTokenID) }
        }
        return ids
    }

    /// `LlamaTokenizer.tokenize` followed by `convert_tokens_to_ids`.
    private func tokenize(_ text: String) -> [Int] {
        if options.legacy || text.isEmpty { return splitAndEncode(text) }
        var prepared = text.replacingScalars(of: "\u{2581}", with: " ")
        if options.addPrefixSpace { prepared = "\u{2581}" + prepared }
        var ids = splitAndEncode(prepared)
        // A lone "▁" left in front of a special token by the prefix is dropped.
        if ids.count > 1, ids[0] == model.exactID(of: "\u{2581}"), let second = token(for: ids[1]),
            specialContents.contains(ExactKey(second)), addedByID[ids[1]] != nil
        {
            ids.removeFirst()
        }
        return ids
    }

    /// `PreTrainedTokenizer.tokenize`: split at added tokens, apply their strip flags, encode the rest.
    private func splitAndEncode(_ text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        enum Chunk { case text(String), token(AddedToken) }
        var chunks: [Chunk] = []
        var cursor = 0
        for match in matcher.matches(in: scalars) {
            if cursor < match.range.lowerBound { chunks.append(.text(String(scalars: scalars[cursor..<match.range.lowerBound]))) }
            chunks.append(.token(addedTokens[match.token]))
            cursor = match.range.upperBound
        }
        if cursor < scalars.count { chunks.append(.text(String(scalars: scalars[cursor...]))) }

        for index in chunks.indices {
            guard case .token(let token) = chunks[index] else { continue }
            if token.rstrip, index + 1 < chunks.count, case .text(let right) = chunks[index + 1] {
                chunks[index + 1] = .text(String(scalars: right.unicodeScalars.drop(while: \.isPythonWhitespace)))
            }
            if token.lstrip, index > 0, case .text(let left) = chunks[index - 1] {
                let kept = Array(left.unicodeScalars).reversed().drop(while: \.isPythonWhitespace).reversed()
                chunks[index - 1] = .text(String(scalars: kept))
            }
            if token.singleWord, index > 0, case .text(let left) = chunks[index - 1], !left.isEmpty, left.unicodeScalars.last != " " {
                chunks[index - 1] = .text(left + token.content)
                chunks[index] = .text("")
            } else if token.singleWord, index + 1 < chunks.count, case .text(let right) = chunks[index + 1],
                !right.isEmpty, right.unicodeScalars.first != " "
            {
                chunks[index + 1] = .text(token.content + right)
                chunks[index] = .text("")
            }
        }

        var ids: [Int] = []
        for chunk in chunks {
            switch chunk {
            case .token(let token): ids.append(token.id)
            case .text(let text) where text.isEmpty: continue
            case .text(let text): ids.append(contentsOf: encodeChunk(text))
            }
        }
        return ids
    }

    /// `LlamaTokenizer._tokenize`.
    private func encodeChunk(_ text: String) -> [Int] {
        if options.legacy || !(text.unicodeScalars.first == "\u{2581}" || text.unicodeScalars.first == " ") { return runtimeModel.encode(text) }
        // Without the dummy prefix sentencepiece would drop a leading "▁", so HF encodes
        // "<unk>" + text and removes the pieces of "<unk>" again.
        guard let unknown = options.unknownToken else { return runtimeModel.encode(text) }
        let ids = runtimeModel.encode(unknown + text)
        return ids.count >= unknownTokenLength ? Array(ids.dropFirst(unknownTokenLength)) : ids
    }

    // MARK: - Decoding

    /// `PreTrainedTokenizer._decode` with `LlamaTokenizer.convert_tokens_to_string`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        var texts: [String] = []
        var current: [String] = []
        for id in ids {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            if let added = addedByID[id], isLegacyAdded(added) {
                // Added non-special tokens are decoded on their own ("legacy added tokens").
                if !current.isEmpty {
                    let text = tokensToString(current)
                    if !text.isEmpty { texts.append(text) }
                    current.removeAll()
                }
                texts.append(added.content)
            } else if let token = token(for: id) {
                current.append(token)
            }
        }
        if !current.isEmpty { texts.append(tokensToString(current)) }
        let text = texts.joined(separator: options.spacesBetweenSpecialTokens ? " " : "")
        return options.cleanUpTokenizationSpaces ? cleanUpTokenizationSpaces(text) : text
    }

    /// transformers decodes added tokens that are not special tokens on their own.
    private func isLegacyAdded(_ token: AddedToken) -> Bool {
        !specialContents.contains(ExactKey(token.content))
            || (options.additionalSpecialTokens.contains(token.content) && token.id >= model.count)
    }

    private func tokensToString(_ input: [String]) -> String {
        var tokens = input
        if options.addPrefixSpace, let first = tokens.first, first.unicodeScalars.first == "\u{2581}" {
            tokens[0] = String(first.unicodeScalars.dropFirst())
        }
        var output = ""
        var pending: [String] = []
        var previousIsSpecial = false
        for (index, token) in tokens.enumerated() {
            if specialContents.contains(ExactKey(token)) {
                if !previousIsSpecial && index != 0 && options.legacy { output += " " }
                output += runtimeModel.decodePieces(pending) + token
                pending.removeAll()
                previousIsSpecial = true
            } else {
                if previousIsSpecial && index == 1 && options.addPrefixSpace && token.unicodeScalars.first != "\u{2581}" {
                    output += " "
                }
                pending.append(token)
                previousIsSpecial = false
            }
        }
        return output + runtimeModel.decodePieces(pending)
    }
}
