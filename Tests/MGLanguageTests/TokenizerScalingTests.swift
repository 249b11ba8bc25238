import Foundation
import MGTestSupport
import Testing

@testable import MGLanguage

/// Tokenising user text must take time proportional to its length: a prompt is untrusted input,
/// and a tokenizer that is quadratic in some shape of text (one long word, a long run of spaces,
/// many added tokens) lets a short request occupy a core for minutes.
///
/// Each case times `n` and `4n` scalars of the same pattern. Linear work grows 4×, quadratic
/// 16×; the bound of 8× leaves room for noise on a shared machine (the smaller input is the
/// best of three runs, the larger one of two).
@Suite struct TokenizerScalingTests {
    /// Text shapes that stress each stage: pre-tokenizer runs, BPE over one long word, the added
    /// token matcher, byte fallback.
    static let patterns: [(name: String, unit: String)] = [
        ("prose", "The quick brown fox jumps over the lazy dog. "),
        ("one long word", "abcdefghij"),
        ("one letter", "a"),
        ("spaces", " "),
        ("spaces and newlines", "  \n \t\r\n"),
        ("digits", "0123456789"),
        ("non-Latin", "日本語のテキスト🙂naïve "),
        ("added tokens", "</s><s> x<unk>"),
        ("punctuation", "!?.,;:'\"()[]{}"),
    ]

    static func tokenizers() throws -> [String: any Tokenizer] {
        let sp = try #require(TokenizerFixtures.url("tokenizer_sp_bpe", "model"))
        var nonLegacy = SentencePieceTokenizer.Options()
        nonLegacy.legacy = false
        var result: [String: any Tokenizer] = [
            "sentencepiece legacy": try SentencePieceTokenizer(modelURL: sp),
            "sentencepiece non-legacy": try SentencePieceTokenizer(modelURL: sp, options: nonLegacy),
        ]
        for name in ["tokenizer_bytelevel", "tokenizer_bytelevel_gpt2", "tokenizer_bytefallback"] {
            result[name] = try TokenizerJSON(url: try #require(TokenizerFixtures.url(name, "json")))
        }
        return result
    }

    static func text(_ unit: String, scalars: Int) -> String { ScalingMeasurement.text(unit, scalars: scalars) }

    static func seconds(_ runs: Int, _ work: () -> Void) -> Double { ScalingMeasurement.seconds(runs, work) }

    /// How much longer `4n` scalars of `unit` take than `n`, with both times for the message. A
    /// measurement over the bound is taken again, up to three times in all, and the best kept: a
    /// quadratic tokenizer stays near 16× every time, while one disturbed run (a sanitizer build on
    /// a busy host measured 8.3× once for byte fallback on punctuation) does not repeat.
    static func growth(of tokenizer: any Tokenizer, unit: String, n: Int) -> (ratio: Double, small: Double, large: Double) {
        let small = text(unit, scalars: n), large = text(unit, scalars: 4 * n)
        var best = (ratio: Double.infinity, small: 0.0, large: 0.0)
        for _ in 0..<3 {
            let smallTime = seconds(3) { _ = tokenizer.encode(small, addSpecialTokens: true) }
            let largeTime = seconds(2) { _ = tokenizer.encode(large, addSpecialTokens: true) }
            let ratio = largeTime / max(smallTime, 1e-6)
            if ratio < best.ratio { best = (ratio, smallTime, largeTime) }
            if isLinear(best) { break }
        }
        return best
    }

    /// A large input done in under this many seconds passes whatever the ratio: at that size
    /// timer and scheduling noise dominate, and a quadratic tokenizer takes seconds (the Llama-3
    /// digit case below took 14 s for 25k scalars in a debug build).
    static let noiseFloor = 0.05

    /// The pass condition of every case, and what ends `growth`'s retries: under the 8× bound, or
    /// too fast for the ratio to mean anything.
    static func isLinear(_ growth: (ratio: Double, small: Double, large: Double)) -> Bool {
        growth.large < noiseFloor || growth.ratio < 8
    }

    @Test(arguments: ["sentencepiece legacy", "sentencepiece non-legacy", "tokenizer_bytelevel",
                      "tokenizer_bytelevel_gpt2", "tokenizer_bytefallback"])
    func encodingTimeGrowsLinearly(tokenizer name: String) throws {
        let tokenizer = try #require(try Self.tokenizers()[name])
        for (pattern, unit) in Self.patterns {
            let result = Self.growth(of: tokenizer, unit: unit, n: 5_000)
            #expect(Self.isLinear(result),
                    "\(name) / \(pattern): 5k scalars \(result.small) s, 20k \(result.large) s (×\(result.ratio))")
        }
    }

    /// Regression: the Llama-3 pattern's `\p{N}{1,3}` scanned the whole digit run at every
    /// match, so 25k digits took 14 s and 100k digits 237 s in a debug build.
    @Test func longDigitRunsSplitInLinearTime() throws {
        let tokenizer = try #require(try Self.tokenizers()["tokenizer_bytelevel"])
        let result = Self.growth(of: tokenizer, unit: "0123456789", n: 50_000)
        #expect(Self.isLinear(result),
                "50k digits \(result.small) s, 200k \(result.large) s (×\(result.ratio))")
        let digits = Self.text("0123456789", scalars: 200_000)
        let pieces = SplitPattern.llama3.matches(in: Array(digits.unicodeScalars))
        // Three digits a piece; 200,000 = 3 × 66,666 + 2 leaves two for the last.
        #expect(pieces.count == 66_667 && pieces.dropLast().allSatisfy { $0.count == 3 } && pieces.last == 199_998..<200_000)
    }
}
