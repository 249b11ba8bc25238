import MGTensor

/// The `decoder` stage of `tokenizer.json`: each decoder maps the list of token strings to a new
/// list (tokenizers' `decode_chain`), and the final list is concatenated.
enum TokenDecoder: Sendable {
    case sequence([TokenDecoder])
    case replace(pattern: String, content: String)
    /// `<0xXX>` runs become text; a run that is not valid UTF-8 becomes one U+FFFD per byte.
    case byteFallback
    /// Concatenates everything into one string.
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters from every token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// Maps GPT-2 byte characters back to bytes, then decodes the whole text lossily.
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, prependScheme: PreTokenizer.PrependScheme)

    init(json: JSONValue) throws(TokenizerError) {
        guard let type = json["type"]?.string else { throw .invalidJSON(reason: "decoder without a type") }
        switch type {
        case "Sequence":
            guard let items = json["decoders"]?.array else { throw .invalidJSON(reason: "Sequence without decoders") }
            var decoders: [TokenDecoder] = []
            for item in items { decoders.append(try TokenDecoder(json: item)) }
            self = .sequence(decoders)
        case "Replace":
            self = .replace(pattern: try literalPattern(json["pattern"], in: "Replace decoder"),
                            content: json["content"]?.string ?? "")
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            guard let content = json["content"]?.string?.unicodeScalars.first else {
                throw .invalidJSON(reason: "Strip decoder without content")
            }
            self = .strip(content: content, start: json["start"]?.integer ?? 0, stop: json["stop"]?.integer ?? 0)
        case "ByteLevel": self = .byteLevel
        case "Metaspace":
            let replacement = json["replacement"]?.string?.unicodeScalars.first ?? "\u{2581}"
            let scheme: PreTokenizer.PrependScheme
            if let name = json["prepend_scheme"]?.string {
                guard let parsed = PreTokenizer.PrependScheme(rawValue: name) else {
                    throw .unsupported(feature: "prepend_scheme \(name)")
                }
                scheme = parsed
            } else {
                scheme = json["add_prefix_space"]?.bool ?? true ? .always : .never
            }
            self = .metaspace(replacement: replacement, prependScheme: scheme)
        default:
            throw .unsupported(feature: "decoder \(type)")
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.decodeChain($0) }
        case .replace(let pattern, let content):
            return tokens.map { $0.replacingScalars(of: pattern, with: content) }
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var lower = 0
                while lower < min(start, scalars.count), scalars[lower] == content { lower += 1 }
                var upper = scalars.count
                // Like tokenizers, the right cut is not limited by the left one.
                var removed = 0
                while removed < stop, upper > 0, scalars[upper - 1] == content {
                    upper -= 1
                    removed += 1
                }
                return lower < upper ? String(scalars: scalars[lower..<upper]) : ""
            }
        case .byteFallback:
            var output: [String] = []
            var bytes: [UInt8] = []
            for token in tokens {
                if let byte = SentencePieceModel.byteValue(ofPiece: token) ?? Self.lowerHexByte(token) {
                    bytes.append(byte)
                    continue
                }
                if !bytes.isEmpty {
                    output.append(UTF8Repair.allOrEachByteReplaced(bytes))
                    bytes.removeAll()
                }
                output.append(token)
            }
            if !bytes.isEmpty { output.append(UTF8Repair.allOrEachByteReplaced(bytes)) }
            return output
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let mapped = token.unicodeScalars.map { ByteLevel.scalarToByte[$0.value] }
                if mapped.allSatisfy({ $0 != nil }) {
                    bytes.append(contentsOf: mapped.map { $0! })
                } else {
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return [UTF8Repair.lossy(bytes)]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { index, token in
                // Every replacement character of the first token is dropped, not only a leading one.
                let dropAll = index == 0 && scheme != .never
                return String(scalars: token.unicodeScalars.compactMap { $0 == replacement ? (dropAll ? nil : " ") : $0 })
            }
        }
    }

    /// tokenizers parses `<0x..>` with `from_str_radix`, which also accepts lower-case hex digits.
    private static func lowerHexByte(_ token: String) -> UInt8? {
        let utf8 = Array(token.utf8)
        guard utf8.count == 6, token.hasPrefix("<0x"), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}

/// The `post_processor` stage, for single sequences: adds the template's special tokens.
enum PostProcessor: Sendable {
    case sequence([PostProcessor])
    /// Ids to put before and after the sequence (`$A`) of the `single` template.
    case template(prefix: [Int], suffix: [Int])
    /// ByteLevel post-processing only trims offsets; ids are unchanged.
    case none

    init(json: JSONValue) throws(TokenizerError) {
        guard let type = json["type"]?.string else { throw .invalidJSON(reason: "post_processor without a type") }
        switch type {
        case "Sequence":
            guard let items = json["processors"]?.array else { throw .invalidJSON(reason: "Sequence without processors") }
            var processors: [PostProcessor] = []
            for item in items { processors.append(try PostProcessor(json: item)) }
            self = .sequence(processors)
        case "ByteLevel": self = .none
        case "TemplateProcessing":
            guard let single = json["single"]?.array else { throw .invalidJSON(reason: "TemplateProcessing without single") }
            var prefix: [Int] = [], suffix: [Int] = [], seenSequence = false
            for piece in single {
                if piece["Sequence"] != nil {
                    seenSequence = true
                } else if let name = piece["SpecialToken"]?["id"]?.string {
                    guard let ids = json["special_tokens"]?[name]?["ids"]?.array?.compactMap(\.integer) else {
                        throw .invalidJSON(reason: "TemplateProcessing special token \(name) has no ids")
                    }
                    if seenSequence { suffix += ids } else { prefix += ids }
                } else {
                    throw .invalidJSON(reason: "TemplateProcessing piece is neither Sequence nor SpecialToken")
                }
            }
            self = .template(prefix: prefix, suffix: suffix)
        default:
            throw .unsupported(feature: "post_processor \(type)")
        }
    }

    func process(_ ids: [Int]) -> [Int] {
        switch self {
        case .sequence(let processors): processors.reduce(ids) { $1.process($0) }
        case .template(let prefix, let suffix): prefix + ids + suffix
        case .none: ids
        }
    }

    /// The first id the template puts in front of a sequence (the BOS of Llama vocabularies).
    var firstPrefixID: Int? {
        switch self {
        case .sequence(let processors): processors.lazy.compactMap(\.firstPrefixID).first
        case .template(let prefix, _): prefix.first
        case .none: nil
        }
    }
}
