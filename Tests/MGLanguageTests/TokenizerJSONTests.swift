import Foundation
import MGTensor
import Testing

@testable import MGLanguage

/// `tokenizer.json` vocabularies trained with the `tokenizers` library by
/// Tools/goldens/tokenizers.py, compared id for id and character for character with it.
@Suite struct TokenizerJSONTests {
    static func tokenizer(_ name: String) throws -> TokenizerJSON {
        let url = try #require(TokenizerFixtures.url(name, "json"), "fixture \(name).json is missing")
        return try TokenizerJSON(url: url)
    }

    /// Fixture file → golden record: byte-level BPE (Llama-3 regex, ignore_merges; GPT-2 regex with
    /// prefix space) and byte-fallback BPE (Metaspace; Llama-2's Prepend/Replace normalisers; NFKC).
    static let cases = [
        ("tokenizer_bytelevel", "bytelevel"), ("tokenizer_bytelevel_gpt2", "bytelevel_gpt2"),
        ("tokenizer_bytefallback", "bytefallback"), ("tokenizer_bytefallback_legacy", "bytefallback_legacy"),
        ("tokenizer_bytefallback_nfkc", "bytefallback_nfkc"),
    ]

    @Test(arguments: cases)
    func matchesTheTokenizersLibrary(file: String, record name: String) throws {
        let goldens = try #require(TokenizerFixtures.trained, "tokenizer_goldens.json is missing")
        let record = try #require(goldens.tokenizers[name])
        let tokenizer = try Self.tokenizer(file)
        let problems = mismatches(of: tokenizer, against: record, strings: goldens.strings)
        #expect(problems.isEmpty, "\(problems)")
        let trips = roundTrips(of: tokenizer, record: record, strings: goldens.strings)
        #expect(trips.ours == trips.reference)
    }

    @Test func readsTheStagesAndSpecialTokens() throws {
        let tokenizer = try Self.tokenizer("tokenizer_bytelevel")
        #expect(tokenizer.bosTokenID == tokenizer.tokenID(for: "<|begin_of_text|>"))
        #expect(tokenizer.eosTokenID == nil)
        #expect(tokenizer.model.ignoreMerges)
        #expect(tokenizer.isSpecialToken(try #require(tokenizer.tokenID(for: "<|eot_id|>"))))
        #expect(!tokenizer.isSpecialToken(try #require(tokenizer.tokenID(for: "[USER]"))))
        #expect(tokenizer.token(for: -1) == nil && tokenizer.token(for: tokenizer.vocabularySize) == nil)
        let fallback = try Self.tokenizer("tokenizer_bytefallback")
        #expect(fallback.bosTokenID == 1 && fallback.model.byteFallback && fallback.tokenID(for: "<0x0A>") == 13)
    }

    @Test func splitPatternsFollowTheRegexAlternatives() {
        func pieces(_ text: String, _ pattern: SplitPattern) -> [String] {
            let scalars = Array(text.unicodeScalars)
            return pattern.matches(in: scalars).map { String(scalars: scalars[$0]) }
        }
        #expect(pieces("I'M here's 12345 ab\n\n  x!!\n", .llama3) == ["I", "'M", " here", "'s", " ", "123", "45", " ab", "\n\n", " ", " x", "!!\n"])
        #expect(pieces("a  b   ", .llama3) == ["a", " ", " b", "   "])
        #expect(pieces("I'M here's 12345", .gpt2) == ["I", "'", "M", " here", "'s", " 12345"])
        #expect(pieces("x\u{301}y", .llama3) == ["x", "\u{301}y"])
    }

    @Test func rejectsWhatItDoesNotImplement() {
        let unigram = Array(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8)
        #expect(throws: TokenizerError.unsupported(feature: "model Unigram")) { try TokenizerJSON(json: unigram) }
        let regex = Array(#"""
            {"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
             "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated", "invert": false}}
            """#.utf8)
        #expect(throws: TokenizerError.unsupported(feature: #"Split regex \d+"#)) { try TokenizerJSON(json: regex) }
        let badMerge = Array(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#.utf8)
        #expect(throws: TokenizerError.self) { try TokenizerJSON(json: badMerge) }
        #expect(throws: TokenizerError.self) { try TokenizerJSON(json: Array("{\"model\": ".utf8)) }
        #expect(throws: TokenizerError.unknownToken("<eos>")) {
            try TokenizerJSON(json: Array(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#.utf8),
                              options: .init(eosToken: "<eos>"))
        }
    }

    @Test func parsesJSONEscapes() throws {
        let value = try StrictJSONParser.parse(Array(#"{"s": "a\"\\\/\n\u00e9\ud83d\ude00", "n": [1, -2.5e1, true, null]}"#.utf8))
        #expect(value["s"]?.string == "a\"\\/\n\u{e9}\u{1F600}")
        #expect(value["n"]?.array?.count == 4 && value["n"]?.array?[0].integer == 1)
        #expect(value["n"]?.array?[1].double == -25 && value["n"]?.array?[1].integer == nil)
        #expect(value["n"]?.array?[2].bool == true && value["n"]?.array?[3].isNull == true)
        #expect(throws: JSONSyntaxError.self) { try StrictJSONParser.parse(Array(#"{"s": "\ud83d"}"#.utf8)) }
        #expect(throws: TokenizerError.self) { try parseTokenizerJSON(Array(#"{"s": "\ud83d"}"#.utf8)) }
    }

    /// The tokenizer files now go through the checkpoint parser: what serde_json (the reader of
    /// `tokenizers`) refuses is refused, and duplicate keys stay visible with the first one winning lookups.
    @Test func tokenizerJSONIsParsedStrictly() throws {
        let duplicate = try StrictJSONParser.parse(Array(#"{"a": 1, "a": 2}"#.utf8))
        #expect(duplicate["a"]?.integer == 1 && duplicate.object?.count == 2)
        #expect(try StrictJSONParser.parse(Array("123456789012345678901234567890".utf8)).integer == nil)
        for text in ["{\"a\": 01}", "{\"a\": +1}", "{\"a\": 1.}", "[1,]", "{\"a\": \"x\ny\"}", "[1] x",
                     String(repeating: "[", count: 65) + String(repeating: "]", count: 65)] {
            #expect(throws: JSONSyntaxError.self, "\(text)") { try StrictJSONParser.parse(Array(text.utf8)) }
        }
        // Malformed UTF-8 inside a string is refused, not replaced with U+FFFD.
        let invalid: [UInt8] = Array(#"{"a": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONSyntaxError(reason: "invalid UTF-8 in string", offset: 7)) { try StrictJSONParser.parse(invalid) }
        #expect(try StrictJSONParser.parse(Array(#"["é\n😀"]"#.utf8)).array?.first?.string == "é\n😀")
    }
}
