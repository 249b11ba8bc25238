import MGLanguage
import MGPipeline
import MGTensor
import Testing

/// A character-level tokenizer: id = scalar value + 10, optional BOS.
private struct CharacterTokenizer: Tokenizer {
    var bosTokenID: Int?
    var eosTokenID: Int? { 2 }
    var vocabularySize: Int { 1000 }

    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] {
        (addSpecialTokens ? [bosTokenID].compactMap { $0 } : []) + text.unicodeScalars.map { Int($0.value) + 10 }
    }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String { "" }
    func tokenID(for token: String) -> Int? { nil }
    func token(for id: Int) -> String? { nil }
    func isSpecialToken(_ id: Int) -> Bool { id < 10 }
}

@Suite("tokenizer_image_token and splicing")
struct ImageTokenSplicingTests {
    @Test("with BOS: BOS once, the first token of every piece dropped, one −200 per image")
    func withBOS() {
        let tokenizer = CharacterTokenizer(bosTokenID: 1)
        let ids = tokenizeWithImagePlaceholders("ab<image>c<image>", tokenizer: tokenizer)
        #expect(ids == [1, 97 + 10, 98 + 10, -200, 99 + 10, -200])
    }

    @Test("without BOS: pieces joined unchanged")
    func withoutBOS() {
        let tokenizer = CharacterTokenizer(bosTokenID: nil)
        #expect(tokenizeWithImagePlaceholders("<image>\nx", tokenizer: tokenizer) == [-200, 10 + 10, 120 + 10])
        #expect(tokenizeWithImagePlaceholders("plain", tokenizer: tokenizer).count == 5)
    }

    @Test("visual rows replace the placeholders in order")
    func splice() throws {
        let table = try Tensor(shape: [200, 2], values: (0..<400).map(Float.init))
        let imageA = try Tensor(shape: [1, 3, 2], values: [-1, -1, -2, -2, -3, -3])
        let imageB = try Tensor(shape: [2, 2], values: [-4, -4, -5, -5])
        let rows = try spliceVisualTokens(ids: [1, -200, 5, 6, -200, 7], visualTokens: [imageA, imageB]) { (ids) throws(LanguageModelError) in
            do { return try embedding(ids: ids, table: table) } catch { throw .invalidInput("\(error)") }
        }
        #expect(rows.shape == [4 + 3 + 2, 2])
        #expect(try rows.floats().enumerated().filter { $0.offset % 2 == 0 }.map(\.element) == [2, -1, -2, -3, 10, 12, -4, -5, 14])
    }

    @Test("a placeholder without an image is a request error")
    func countMismatch() throws {
        let table = try Tensor(shape: [10, 2], values: Array(repeating: 0, count: 20))
        #expect {
            try spliceVisualTokens(ids: [1, -200, -200], visualTokens: [table]) { (ids) throws(LanguageModelError) in
                do { return try embedding(ids: ids, table: table) } catch { throw .invalidInput("\(error)") }
            }
        } throws: { error in
            if case MiniGeminiError.invalidRequest = error { return true }
            return false
        }
    }
}
