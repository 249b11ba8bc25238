import Foundation
import Testing

@testable import MGLanguage

/// ``StreamingDetokenizer``: fed one id at a time, its deltas concatenate to `decode(ids)`.
@Suite struct TokenizerStreamingTests {
    static func stream(_ tokenizer: any Tokenizer, _ ids: [Int], skip: Bool) -> [String] {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skip)
        var deltas = ids.map { detokenizer.append($0) }
        deltas.append(detokenizer.finish())
        return deltas
    }

    /// Whether decoding more ids only ever appends text (then streaming must match exactly).
    static func isMonotonic(_ tokenizer: any Tokenizer, _ ids: [Int], skip: Bool) -> Bool {
        var previous: [Unicode.Scalar] = []
        for count in 0...ids.count {
            let text = Array(tokenizer.decode(Array(ids[..<count]), skipSpecialTokens: skip).unicodeScalars)
            if !text.starts(with: previous) { return false }
            // A trailing U+FFFD may be a character still incomplete: not a rewrite.
            previous = Array(text.reversed().drop { $0 == "\u{FFFD}" }.reversed())
        }
        return true
    }

    /// Streams every test string's ids and compares with `decode`. Exact, except where the reference
    /// decoder inserts a space into text already returned (transformers' legacy Llama decoder with
    /// special tokens kept): there equal up to whitespace.
    static func checkAllStrings(_ tokenizer: any Tokenizer, name: String, legacyLlama: Bool = false) throws {
        let strings = try #require(TokenizerFixtures.trained).strings
        var failures: [String] = []
        for text in strings {
            let ids = tokenizer.encode(text)
            for skip in [true, false] {
                let joined = stream(tokenizer, ids, skip: skip).joined()
                let expected = tokenizer.decode(ids, skipSpecialTokens: skip)
                if legacyLlama && !skip && !isMonotonic(tokenizer, ids, skip: skip) {
                    if joined.filter({ !$0.isWhitespace }) != expected.filter({ !$0.isWhitespace }) {
                        failures.append("\(visible(text)): \(visible(joined)) vs \(visible(expected))")
                    }
                } else if !same(joined, expected) {
                    failures.append("\(visible(text)) skip=\(skip): \(visible(joined)) != \(visible(expected))")
                }
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures.prefix(5))")
    }

    static let trainedNames = ["sp legacy", "sp non-legacy"] + TokenizerJSONTests.cases.map(\.0)

    @Test(arguments: trainedNames)
    func concatenationEqualsDecodeForTrainedVocabularies(name: String) throws {
        var options = SentencePieceTokenizer.Options()
        options.legacy = name == "sp legacy"
        let tokenizer: any Tokenizer = name.hasPrefix("sp ")
            ? try SentencePieceTokenizer(model: TokenizerSentencePieceTests.model("tokenizer_sp_bpe"), options: options)
            : try TokenizerJSONTests.tokenizer(name)
        try Self.checkAllStrings(tokenizer, name: name, legacyLlama: name == "sp legacy")
    }

    @Test(.enabled(if: TokenizerFixtures.sharedVocabulary != nil, "../shared/vocab is absent"))
    func concatenationEqualsDecodeForRealVocabularies() throws {
        try Self.checkAllStrings(try #require(RealTokenizers.llama2Slow), name: "llama2 slow", legacyLlama: true)
        try Self.checkAllStrings(try #require(RealTokenizers.llama3), name: "llama3")
    }

    @Test func keepsTheSpaceBeforeEveryWordButTheFirst() throws {
        let tokenizer = try SentencePieceTokenizer(model: TokenizerSentencePieceTests.model("tokenizer_sp_bpe"))
        let ids = tokenizer.encode("the quick brown fox")
        let deltas = Self.stream(tokenizer, ids, skip: true)
        #expect(deltas.joined() == "the quick brown fox")
        #expect(deltas.first { !$0.isEmpty } == "the" || deltas.first { !$0.isEmpty }?.hasPrefix(" ") == false)
        // Every later word arrives with its leading space.
        #expect(deltas.filter { $0.hasPrefix(" ") }.count >= 3)
    }

    @Test func holdsBackPartialCharactersOfByteTokens() throws {
        let model = try TokenizerSentencePieceTests.model("tokenizer_sp_bpe")
        let tokenizer = try SentencePieceTokenizer(model: model)
        // U+1F980 (crab) is not in this small vocabulary: four byte-fallback pieces.
        let ids = tokenizer.encode("a 🦀 b", addSpecialTokens: false)
        let bytes = ["<0xF0>", "<0x9F>", "<0xA6>", "<0x80>"].compactMap { model.exactID(of: $0) }
        #expect(ids.count >= 6 && ids.contains(bytes[0]))
        let deltas = Self.stream(tokenizer, ids, skip: true)
        #expect(deltas.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") })
        #expect(deltas.contains(" 🦀") || deltas.contains("🦀"))
        #expect(deltas.joined() == "a 🦀 b")
        // A sequence that never completes is flushed as replacement characters at the end.
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(stream.append(bytes[0]) == "" && stream.append(bytes[1]) == "")
        #expect(stream.finish() == tokenizer.decode(Array(bytes[0..<2])))
    }
}
