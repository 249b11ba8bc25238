import Foundation
import Testing

@testable import MGLanguage

/// The real vocabularies of the MGM releases from `../shared/vocab` (Llama-2/Vicuna as
/// `tokenizer.model` and `tokenizer.json`, Llama-3 as `tokenizer.json`), against ids the
/// reference libraries produced at golden-generation time. Skipped when `../shared` is absent.
@Suite(.enabled(if: TokenizerFixtures.sharedVocabulary != nil, "../shared/vocab is absent; real-vocabulary tests skipped"))
struct TokenizerRealVocabularyTests {
    static func vocabulary(_ path: String) throws -> URL {
        try #require(TokenizerFixtures.sharedVocabulary).appendingPathComponent(path)
    }

    static func goldens() throws -> TokenizerGoldenFile {
        try #require(TokenizerFixtures.real, "tokenizer_goldens_real.json is missing; run python3 Tools/make_goldens.py tokenizers")
    }

    static func check(_ tokenizer: any Tokenizer, _ name: String) throws {
        let goldens = try goldens()
        let record = try #require(goldens.tokenizers[name])
        let problems = mismatches(of: tokenizer, against: record, strings: goldens.strings)
        #expect(problems.isEmpty, "\(name): \(problems)")
        let trips = roundTrips(of: tokenizer, record: record, strings: goldens.strings)
        #expect(trips.ours == trips.reference, "\(name): round trips differ")
    }

    @Test func llama2SlowTokenizerAsMGMLoadsIt() throws {
        // MGM-7B/13B: AutoTokenizer(use_fast=False) with Vicuna's tokenizer_config.json (legacy: true).
        let tokenizer = try TokenizerLoader.load(directory: Self.vocabulary("llama2"), useFast: false)
        #expect(tokenizer is SentencePieceTokenizer)
        #expect(tokenizer.bosTokenID == 1 && tokenizer.eosTokenID == 2 && tokenizer.vocabularySize == 32000)
        try Self.check(tokenizer, "llama2_model_legacy")
        #expect(tokenizer.encode("Hello </s> world") == [1, 15043, 29871, 2, 29871, 3186])
    }

    @Test func llama2SlowTokenizerNonLegacy() throws {
        var options = SentencePieceTokenizer.Options()
        options.legacy = false
        let tokenizer = try SentencePieceTokenizer(modelURL: Self.vocabulary("llama2/tokenizer.model"), options: options)
        try Self.check(tokenizer, "llama2_model_nonlegacy")
    }

    @Test func llama2TokenizerJSON() throws {
        try Self.check(TokenizerJSON(url: Self.vocabulary("llama2/tokenizer.json")), "llama2_json")
    }

    @Test func llama3TokenizerJSON() throws {
        let tokenizer = try #require(RealTokenizers.llama3, "llama3/tokenizer.json did not load")
        #expect(tokenizer.vocabularySize == 128_256 && tokenizer.bosTokenID == 128_000 && tokenizer.eosTokenID == 128_009)
        try Self.check(tokenizer, "llama3_json")
    }
}
