import Foundation
import MGLanguage
import Testing

/// Expected results of one reference tokenizer over the shared test strings
/// (written by Tools/goldens/tokenizers.py).
struct TokenizerGoldenRecord: Decodable {
    /// `encode(s, addSpecialTokens: true)` per test string.
    let ids: [[Int]]
    /// `encode(s, addSpecialTokens: false)`; absent for raw SentencePiece records.
    let plain: [[Int]]?
    /// `decode(ids)`; `nil` entries mean "equal to the test string".
    let decoded: [String?]
    let decodedSkip: [String?]?
    /// Arbitrary id lists (random ids, lone bytes) and their reference decodings.
    let decodeIDs: [[Int]]
    let decodeText: [String]
    let decodeTextSkip: [String]?

    enum CodingKeys: String, CodingKey {
        case ids, plain, decoded
        case decodedSkip = "decoded_skip"
        case decodeIDs = "decode_ids"
        case decodeText = "decode_text"
        case decodeTextSkip = "decode_text_skip"
    }
}

struct TokenizerGoldenFile: Decodable {
    let strings: [String]
    let tokenizers: [String: TokenizerGoldenRecord]
}

enum TokenizerFixtures {
    static func url(_ name: String, _ ext: String) -> URL? {
        Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures")
    }

    static func load(_ name: String) -> TokenizerGoldenFile? {
        guard let url = url(name, "json"), let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(TokenizerGoldenFile.self, from: data)
    }

    static let trained: TokenizerGoldenFile? = load("tokenizer_goldens")
    static let real: TokenizerGoldenFile? = load("tokenizer_goldens_real")

    /// `../shared/vocab` next to the package root, if this checkout has it.
    static let sharedVocabulary: URL? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let vocab = root.deletingLastPathComponent().appendingPathComponent("shared/vocab")
        return FileManager.default.fileExists(atPath: vocab.path) ? vocab : nil
    }()
}

/// The real tokenizers, loaded once per test run (Llama-3's 128k vocabulary takes seconds in a debug build).
enum RealTokenizers {
    static let llama2Slow: (any Tokenizer)? = TokenizerFixtures.sharedVocabulary.flatMap {
        try? TokenizerLoader.load(directory: $0.appendingPathComponent("llama2"), useFast: false)
    }
    static let llama3: TokenizerJSON? = TokenizerFixtures.sharedVocabulary.flatMap {
        try? TokenizerJSON(url: $0.appendingPathComponent("llama3/tokenizer.json"), options: .init(eosToken: "<|eot_id|>"))
    }
}

/// Exact string equality: Swift's `==` treats canonically equivalent strings ("é" and "e\u{301}")
/// as equal, which would hide normalisation differences from the reference.
func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// Shows strings with their invisible characters, for failure messages.
func visible(_ text: String) -> String { text.debugDescription }

/// Compares a tokenizer with a golden record; returns readable mismatches (at most `limit`).
func mismatches(
    of tokenizer: any Tokenizer, against record: TokenizerGoldenRecord, strings: [String], limit: Int = 8
) -> [String] {
    var problems: [String] = []
    func report(_ message: String) { if problems.count < limit { problems.append(message) } }
    for (index, text) in strings.enumerated() {
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        if ids != record.ids[index] { report("encode \(visible(text)): \(ids) != \(record.ids[index])") }
        if let plain = record.plain?[index], tokenizer.encode(text, addSpecialTokens: false) != plain {
            report("encode (no specials) \(visible(text)): \(tokenizer.encode(text, addSpecialTokens: false)) != \(plain)")
        }
        let expected = record.decoded[index] ?? text
        let decoded = tokenizer.decode(record.ids[index], skipSpecialTokens: false)
        if !same(decoded, expected) { report("decode \(record.ids[index]): \(visible(decoded)) != \(visible(expected))") }
        if let skip = record.decodedSkip {
            let expectedSkip = skip[index] ?? text
            let decodedSkip = tokenizer.decode(record.ids[index], skipSpecialTokens: true)
            if !same(decodedSkip, expectedSkip) {
                report("decode skip \(record.ids[index]): \(visible(decodedSkip)) != \(visible(expectedSkip))")
            }
        }
    }
    for (index, ids) in record.decodeIDs.enumerated() {
        let text = tokenizer.decode(ids, skipSpecialTokens: false)
        if !same(text, record.decodeText[index]) { report("decode \(ids): \(visible(text)) != \(visible(record.decodeText[index]))") }
        if let skip = record.decodeTextSkip?[index], !same(tokenizer.decode(ids, skipSpecialTokens: true), skip) {
            report("decode skip \(ids): \(visible(tokenizer.decode(ids, skipSpecialTokens: true))) != \(visible(skip))")
        }
    }
    return problems
}

/// Strings for which `decode(encode(s), skipSpecialTokens: true) == s`, by our tokenizer and by the reference.
func roundTrips(of tokenizer: any Tokenizer, record: TokenizerGoldenRecord, strings: [String]) -> (ours: Set<Int>, reference: Set<Int>) {
    var ours = Set<Int>(), reference = Set<Int>()
    for (index, text) in strings.enumerated() {
        if same(tokenizer.decode(tokenizer.encode(text), skipSpecialTokens: true), text) { ours.insert(index) }
        if let skip = record.decodedSkip, skip[index] == nil { reference.insert(index) }
    }
    return (ours, reference)
}
