import Foundation
import MGTensor
import MGTestSupport
@testable import MGLanguage

/// The tiny HF models written by Tools/goldens/decoders.py (`Fixtures/dec_<name>/`).
enum DecoderFixture {
    static let families = ["llama", "llama3", "mistral", "mixtral", "gemma"]

    static func directory(_ name: String) throws -> String {
        guard let url = Bundle.module.url(forResource: "dec_\(name)", withExtension: nil, subdirectory: "Fixtures") else {
            throw DecoderFixtureMissing(name: "dec_\(name)")
        }
        return url.path
    }

    static func model(_ name: String) throws -> DecoderModel {
        try DecoderModel(directory: URL(fileURLWithPath: directory(name)))
    }

    static func expected(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: URL(fileURLWithPath: directory(name) + "/expected.safetensors"))
    }

    static func ids(_ tensor: Tensor) -> [Int] {
        tensor.withUnsafeBytes { raw in raw.bindMemory(to: Int64.self).map { Int($0) } }
    }
}

struct DecoderFixtureMissing: Error, CustomStringConvertible {
    let name: String
    var description: String { "fixture \(name) is missing; run python3 Tools/make_goldens.py decoders" }
}

/// An in-memory weight store, for tests that tamper with a checkpoint.
struct DictionaryWeightStore: WeightStore {
    var tensors: [String: Tensor]
    var names: [String] { tensors.keys.sorted() }
    func contains(_ name: String) -> Bool { tensors[name] != nil }
    func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let tensor = tensors[name] else { throw .tensorNotFound(path: "memory", tensor: name) }
        return tensor
    }

    init(copying store: some WeightStore) throws {
        var tensors: [String: Tensor] = [:]
        for name in store.names { tensors[name] = try store.tensor(named: name) }
        self.tensors = tensors
    }
}

/// A tokenizer over single characters: id i ↔ the i-th character of `alphabet`; 0 is EOS.
struct CharacterTokenizer: Tokenizer {
    let alphabet: [Character]
    init(size: Int) {
        let letters = Array("·abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,!?")
        alphabet = Array(letters.prefix(size))
    }
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] { text.compactMap { alphabet.firstIndex(of: $0) } }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        String(ids.compactMap { id -> Character? in
            guard id >= 0, id < alphabet.count, !(skipSpecialTokens && id == 0) else { return nil }
            return alphabet[id]
        })
    }
    var bosTokenID: Int? { nil }
    var eosTokenID: Int? { nil }
    var vocabularySize: Int { alphabet.count }
    func tokenID(for token: String) -> Int? { token.count == 1 ? alphabet.firstIndex(of: token.first!) : nil }
    func token(for id: Int) -> String? { id >= 0 && id < alphabet.count ? String(alphabet[id]) : nil }
    func isSpecialToken(_ id: Int) -> Bool { id == 0 }
}
