import MGTensor

/// A piece of text between pre-tokenizer stages.
struct PreToken {
    var text: String
    /// Whether the piece starts at offset 0 of the original input (Metaspace's `prepend_scheme: first`).
    var isFirst: Bool
}

/// The `pre_tokenizer` stage of `tokenizer.json`.
enum PreTokenizer: Sendable {
    /// tokenizers' `SplitDelimiterBehavior`.
    enum Behavior: String, Sendable {
        case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    enum PrependScheme: String, Sendable { case always, first, never }

    case sequence([PreTokenizer])
    case split(SplitPattern, Behavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)

    init(json: JSONValue) throws(TokenizerError) {
        guard let type = json["type"]?.string else { throw .invalidJSON(reason: "pre_tokenizer without a type") }
        switch type {
        case "Sequence":
            guard let items = json["pretokenizers"]?.array else { throw .invalidJSON(reason: "Sequence without pretokenizers") }
            var stages: [PreTokenizer] = []
            for item in items { stages.append(try PreTokenizer(json: item)) }
            self = .sequence(stages)
        case "Split":
            let name = json["behavior"]?.string ?? ""
            guard let behavior = Behavior(rawValue: name) else { throw .unsupported(feature: "Split behavior \(name)") }
            self = .split(try SplitPattern(json: json["pattern"]), behavior, invert: json["invert"]?.bool ?? false)
        case "ByteLevel":
            self = .byteLevel(addPrefixSpace: json["add_prefix_space"]?.bool ?? true, useRegex: json["use_regex"]?.bool ?? true)
        case "Metaspace":
            let replacement = json["replacement"]?.string?.unicodeScalars.first ?? "\u{2581}"
            // Files written before tokenizers 0.19 say `add_prefix_space` instead of `prepend_scheme`.
            let scheme: PrependScheme
            if let name = json["prepend_scheme"]?.string {
                guard let parsed = PrependScheme(rawValue: name) else { throw .unsupported(feature: "prepend_scheme \(name)") }
                scheme = parsed
            } else {
                scheme = json["add_prefix_space"]?.bool ?? true ? .always : .never
            }
            self = .metaspace(replacement: replacement, prependScheme: scheme, split: json["split"]?.bool ?? true)
        default:
            throw .unsupported(feature: "pre_tokenizer \(type)")
        }
    }

    func preTokenize(_ pieces: [PreToken]) -> [PreToken] {
        switch self {
        case .sequence(let stages):
            return stages.reduce(pieces) { $1.preTokenize($0) }
        case .split(let pattern, let behavior, let invert):
            return pieces.flatMap { Self.split($0, pattern, behavior, invert: invert) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return pieces.flatMap { piece -> [PreToken] in
                var piece = piece
                if addPrefixSpace && piece.text.unicodeScalars.first != " " { piece.text = " " + piece.text }
                let parts = useRegex ? Self.split(piece, .gpt2, .isolated, invert: false) : [piece]
                return parts.map { PreToken(text: ByteLevel.encode($0.text), isFirst: $0.isFirst) }
            }
        case .metaspace(let replacement, let scheme, let split):
            return pieces.flatMap { piece -> [PreToken] in
                var scalars = piece.text.unicodeScalars.map { $0 == " " ? replacement : $0 }
                let prepend = scheme == .always || (scheme == .first && piece.isFirst)
                if prepend && scalars.first != replacement { scalars.insert(replacement, at: 0) }
                let updated = PreToken(text: String(scalars: scalars), isFirst: piece.isFirst)
                guard split else { return [updated] }
                return Self.split(updated, .literal([replacement]), .mergedWithNext, invert: false)
            }
        }
    }

    /// tokenizers' `NormalizedString::split`: matches and gaps, grouped by the behaviour; empty pieces dropped.
    static func split(_ piece: PreToken, _ pattern: SplitPattern, _ behavior: Behavior, invert: Bool) -> [PreToken] {
        let scalars = Array(piece.text.unicodeScalars)
        var parts: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for range in pattern.matches(in: scalars) {
            if previous < range.lowerBound { parts.append((previous..<range.lowerBound, false)) }
            parts.append((range, true))
            previous = range.upperBound
        }
        if previous < scalars.count { parts.append((previous..<scalars.count, false)) }
        if invert { parts = parts.map { ($0.range, !$0.isMatch) } }

        var kept: [Range<Int>] = []
        switch behavior {
        case .isolated: kept = parts.map(\.range)
        case .removed: kept = parts.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var previousMatch = false
            for part in parts {
                if part.isMatch == previousMatch, let last = kept.last {
                    kept[kept.count - 1] = last.lowerBound..<part.range.upperBound
                } else {
                    kept.append(part.range)
                }
                previousMatch = part.isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for part in parts {
                if part.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = last.lowerBound..<part.range.upperBound
                } else {
                    kept.append(part.range)
                }
                previousMatch = part.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for part in parts.reversed() {
                if part.isMatch && !previousMatch, let last = kept.last {
                    kept[kept.count - 1] = part.range.lowerBound..<last.upperBound
                } else {
                    kept.append(part.range)
                }
                previousMatch = part.isMatch
            }
            kept.reverse()
        }
        return kept.filter { !$0.isEmpty }.map {
            PreToken(text: String(scalars: scalars[$0]), isFirst: piece.isFirst && $0.lowerBound == 0)
        }
    }
}

/// GPT-2's reversible byte ↔ character table: printable bytes map to themselves, the others to
/// U+0100 and up, so every byte sequence becomes a string of "visible" characters.
enum ByteLevel {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var table: [UInt32: UInt8] = [:]
        for (byte, scalar) in byteToScalar.enumerated() { table[scalar.value] = UInt8(byte) }
        return table
    }()

    static func encode(_ text: String) -> String {
        String(scalars: text.utf8.map { byteToScalar[Int($0)] })
    }
}
