import Foundation
import Testing

@testable import MGLanguage

/// SentencePiece `tokenizer.model` vocabularies trained by Tools/goldens/tokenizers.py, compared
/// id for id with the `sentencepiece` library and with transformers 4.40's slow `LlamaTokenizer`.
@Suite struct TokenizerSentencePieceTests {
    static func model(_ name: String) throws -> SentencePieceModel {
        let url = try #require(TokenizerFixtures.url(name, "model"), "fixture \(name).model is missing")
        return try SentencePieceModel(contentsOf: url)
    }

    static func goldens() throws -> TokenizerGoldenFile {
        try #require(TokenizerFixtures.trained, "tokenizer_goldens.json is missing; run python3 Tools/make_goldens.py tokenizers")
    }

    @Test func parsesTheModelProto() throws {
        let model = try Self.model("tokenizer_sp_bpe")
        #expect(model.count == 1000)
        #expect(model.trainerSpec.modelType == .bpe)
        #expect(model.trainerSpec.byteFallback)
        #expect(model.normalizerSpec.name == "identity")
        #expect(model.normalizerSpec.addDummyPrefix)
        #expect(!model.normalizerSpec.removeExtraWhitespaces)
        #expect(model.pieces[0...2] == ["<unk>", "<s>", "</s>"])
        #expect(model.types[0] == .unknown && model.types[1] == .control)
        #expect(model.types.filter { $0 == .byte }.count == 256)
        #expect(model.types.filter { $0 == .userDefined }.count == 2)
        #expect(model.exactID(of: "<0x0A>") != nil)
    }

    @Test(arguments: ["sp_bpe_raw": "tokenizer_sp_bpe", "sp_bpe_ws_raw": "tokenizer_sp_bpe_ws"])
    func rawSentencePieceMatchesTheLibrary(record name: String, model file: String) throws {
        let goldens = try Self.goldens()
        let record = try #require(goldens.tokenizers[name])
        let model = try Self.model(file)
        var problems: [String] = []
        for (index, text) in goldens.strings.enumerated() {
            let ids = model.encode(text)
            if ids != record.ids[index] { problems.append("encode \(visible(text)): \(ids) != \(record.ids[index])") }
            let decoded = model.decode(record.ids[index])
            if !same(decoded, record.decoded[index] ?? text) {
                problems.append("decode \(record.ids[index]): \(visible(decoded)) != \(visible(record.decoded[index] ?? text))")
            }
        }
        for (index, ids) in record.decodeIDs.enumerated() where !same(model.decode(ids), record.decodeText[index]) {
            problems.append("decode \(ids): \(visible(model.decode(ids))) != \(visible(record.decodeText[index]))")
        }
        #expect(problems.isEmpty, "\(problems.count) mismatches, first: \(problems.prefix(5))")
    }

    @Test(arguments: [true, false])
    func slowLlamaTokenizerMatchesTransformers(legacy: Bool) throws {
        let goldens = try Self.goldens()
        let record = try #require(goldens.tokenizers[legacy ? "sp_bpe_legacy" : "sp_bpe_nonlegacy"])
        var options = SentencePieceTokenizer.Options()
        options.legacy = legacy
        let tokenizer = try SentencePieceTokenizer(model: Self.model("tokenizer_sp_bpe"), options: options)
        let problems = mismatches(of: tokenizer, against: record, strings: goldens.strings)
        #expect(problems.isEmpty, "\(problems)")
        let trips = roundTrips(of: tokenizer, record: record, strings: goldens.strings)
        #expect(trips.ours == trips.reference)
    }

    @Test func legacyModeEncodesTheChunkAfterASpecialTokenWithADummyPrefix() throws {
        let model = try Self.model("tokenizer_sp_bpe")
        let legacy = try SentencePieceTokenizer(model: model)
        var options = SentencePieceTokenizer.Options()
        options.legacy = false
        let modern = try SentencePieceTokenizer(model: model, options: options)
        let space = try #require(model.exactID(of: "\u{2581}"))
        // Legacy encodes the chunk after a special token with a fresh dummy prefix ("▁."),
        // non-legacy without one (".").
        var noPrefix = model
        noPrefix.normalizerSpec.addDummyPrefix = false
        #expect(legacy.encode("</s>.", addSpecialTokens: false) == [2] + model.encode("."))
        #expect(modern.encode("</s>.", addSpecialTokens: false) == [2] + noPrefix.encode("."))
        #expect(model.encode(".") != noPrefix.encode("."))
        // " " gets the dummy prefix too: "▁▁" is one whitespace-only piece of this vocabulary.
        #expect(legacy.encode(" ", addSpecialTokens: false) == [model.exactID(of: "\u{2581}\u{2581}")])
        #expect(legacy.bosTokenID == 1 && legacy.eosTokenID == 2 && legacy.vocabularySize == 1000)
        #expect(legacy.isSpecialToken(0) && legacy.isSpecialToken(2) && !legacy.isSpecialToken(space))
        #expect(legacy.token(for: 1) == "<s>" && legacy.tokenID(for: "<0x0A>") == model.exactID(of: "<0x0A>"))
    }

    @Test func rejectsMalformedProtos() {
        #expect(throws: TokenizerError.self) { try SentencePieceModel(bytes: [0x0A, 0x05, 0x01]) }
        #expect(throws: TokenizerError.self) { try SentencePieceModel(bytes: [0x0F]) }
        // A model with no pieces has no unknown piece.
        #expect(throws: TokenizerError.invalidModelProto(reason: "no unknown piece")) {
            try SentencePieceModel(bytes: [0x12, 0x02, 0x18, 0x02])
        }
        // The default model type (unigram) is not supported.
        #expect(throws: TokenizerError.unsupported(feature: "SentencePiece model type unigram")) {
            try SentencePieceModel(bytes: [])
        }
    }
}
