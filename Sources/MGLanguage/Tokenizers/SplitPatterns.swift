import MGTensor

/// The pre-tokenizer regexes of byte-level BPE vocabularies, matched by hand over Unicode scalars.
///
/// `tokenizers` runs these patterns with Oniguruma. Rather than a general regex engine (and
/// `NSRegularExpression`, slow and not identical on Linux), each known pattern is written out
/// as the backtracking search it performs; every alternative below names the part of the
/// pattern it implements. Classes: `\p{L}` letters (Lu Ll Lt Lm Lo), `\p{N}` numbers (Nd Nl No),
/// `\s` the White_Space property, as Oniguruma defines them for UTF-8.
enum SplitPattern: Sendable, Equatable {
    /// Llama-3 (tiktoken cl100k-style):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// GPT-2 (the ByteLevel pre-tokenizer's own regex):
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// A literal string.
    case literal([Unicode.Scalar])

    static let llama3Source =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    init(json: JSONValue?) throws(TokenizerError) {
        if let regex = json?["Regex"]?.string {
            switch regex {
            case Self.llama3Source: self = .llama3
            case Self.gpt2Source: self = .gpt2
            default: throw .unsupported(feature: "Split regex \(regex)")
            }
        } else {
            self = .literal(Array(try literalPattern(json, in: "Split").unicodeScalars))
        }
    }

    /// Leftmost non-overlapping matches, as `find_iter` returns them.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = 0
        while start < text.count {
            if let end = match(text, at: start), end > start {
                result.append(start..<end)
                start = end
            } else {
                start += 1
            }
        }
        return result
    }

    /// End of the match starting exactly at `i`, or `nil`.
    private func match(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        switch self {
        case .llama3: Self.matchLlama3(s, at: i)
        case .gpt2: Self.matchGPT2(s, at: i)
        case .literal(let pattern):
            !pattern.isEmpty && i + pattern.count <= s.count && s[i..<(i + pattern.count)].elementsEqual(pattern)
                ? i + pattern.count : nil
        }
    }

    private static func matchLlama3(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        let n = s.count
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if let end = contraction(s, at: i, caseInsensitive: true) { return end }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if s[i].isLetter { return run(s, from: i, while: \.isLetter) }
        if !s[i].isNewline, !s[i].isNumber, i + 1 < n, s[i + 1].isLetter { return run(s, from: i + 1, while: \.isLetter) }
        // \p{N}{1,3}: the scan stops after three, or a long digit run costs quadratic time.
        if s[i].isNumber { return run(s, from: i, while: \.isNumber, limit: 3) }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        if let end = optionalSpaceThen(s, at: i, \.isSymbol) { return run(s, from: end, while: \.isNewline) }
        guard s[i].isSpace else { return nil }
        let spaceEnd = run(s, from: i, while: \.isSpace)
        // \s*[\r\n]+ : the whitespace run up to and including its last line break
        if let lastBreak = (i..<spaceEnd).last(where: { s[$0].isNewline }) { return lastBreak + 1 }
        // \s+(?!\S), then \s+
        return spaceEnd == n || spaceEnd - 1 == i ? spaceEnd : spaceEnd - 1
    }

    private static func matchGPT2(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        if let end = contraction(s, at: i, caseInsensitive: false) { return end }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
        if let end = optionalSpaceThen(s, at: i, \.isLetter) { return end }
        if let end = optionalSpaceThen(s, at: i, \.isNumber) { return end }
        if let end = optionalSpaceThen(s, at: i, \.isSymbol) { return end }
        guard s[i].isSpace else { return nil }
        let spaceEnd = run(s, from: i, while: \.isSpace)
        return spaceEnd == s.count || spaceEnd - 1 == i ? spaceEnd : spaceEnd - 1
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally with Unicode simple case folding (so `ſ` matches `s`).
    private static func contraction(_ s: [Unicode.Scalar], at i: Int, caseInsensitive: Bool) -> Int? {
        guard s[i] == "'", i + 1 < s.count else { return nil }
        func letter(_ index: Int) -> Unicode.Scalar? {
            guard index < s.count else { return nil }
            return caseInsensitive ? fold(s[index]) : s[index]
        }
        switch letter(i + 1) {
        case "s", "t", "m", "d": return i + 2
        case "r", "v": return letter(i + 2) == "e" ? i + 3 : nil
        case "l": return letter(i + 2) == "l" ? i + 3 : nil
        default: return nil
        }
    }

    private static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x41...0x5A: Unicode.Scalar(scalar.value + 0x20)!
        case 0x17F: "s"  // LATIN SMALL LETTER LONG S folds to s
        default: scalar
        }
    }

    /// ` ?X+`: an optional space followed by a run of `X`; the space is only taken if `X` follows.
    private static func optionalSpaceThen(
        _ s: [Unicode.Scalar], at i: Int, _ predicate: (Unicode.Scalar) -> Bool
    ) -> Int? {
        if s[i] == " ", i + 1 < s.count, predicate(s[i + 1]) { return run(s, from: i + 1, while: predicate) }
        return predicate(s[i]) ? run(s, from: i, while: predicate) : nil
    }

    /// End of the run of `predicate` scalars from `start`, at most `limit` long.
    private static func run(
        _ s: [Unicode.Scalar], from start: Int, while predicate: (Unicode.Scalar) -> Bool, limit: Int = .max
    ) -> Int {
        var end = start
        while end < s.count, end - start < limit, predicate(s[end]) { end += 1 }
        return end
    }
}

extension Unicode.Scalar {
    /// `\p{L}`.
    var isLetter: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    /// `\p{N}`.
    var isNumber: Bool {
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// `\s` (White_Space).
    var isSpace: Bool { properties.isWhitespace }

    /// `[\r\n]`.
    var isNewline: Bool { value == 0x0A || value == 0x0D }

    /// `[^\s\p{L}\p{N}]`.
    var isSymbol: Bool { !isSpace && !isLetter && !isNumber }
}
