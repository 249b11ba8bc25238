import Foundation
import MGTensor

/// The settings of `tokenizer_config.json` (and `special_tokens_map.json`) that change how text
/// is tokenised. Missing files or keys leave fields `nil`.
public struct TokenizerConfiguration: Sendable {
    public var tokenizerClass: String?
    public var bosToken: String?
    public var eosToken: String?
    public var unknownToken: String?
    public var padToken: String?
    public var additionalSpecialTokens: [String] = []
    public var addBOSToken: Bool?
    public var addEOSToken: Bool?
    public var legacy: Bool?
    public var addPrefixSpace: Bool?
    public var cleanUpTokenizationSpaces: Bool?
    /// Entries of `added_tokens_decoder`.
    public var addedTokens: [AddedToken] = []

    public init() {}

    /// Reads `special_tokens_map.json`, then `tokenizer_config.json` (which wins) from `directory`.
    /// - Throws: ``TokenizerError/invalidJSON(reason:)`` if a present file is malformed.
    public init(directory: URL) throws(TokenizerError) {
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = directory.appendingPathComponent(name)
            guard let data = try? Data(contentsOf: url) else { continue }
            try merge(parseTokenizerJSON([UInt8](data)))
        }
    }

    private mutating func merge(_ json: JSONValue) throws(TokenizerError) {
        // Tokens are written either as a string or as a serialised AddedToken object.
        func token(_ key: String) -> String? { json[key]?.string ?? json[key]?["content"]?.string }
        tokenizerClass = json["tokenizer_class"]?.string ?? tokenizerClass
        bosToken = token("bos_token") ?? bosToken
        eosToken = token("eos_token") ?? eosToken
        unknownToken = token("unk_token") ?? unknownToken
        padToken = token("pad_token") ?? padToken
        if let extra = json["additional_special_tokens"]?.array {
            additionalSpecialTokens = extra.compactMap { $0.string ?? $0["content"]?.string }
        }
        addBOSToken = json["add_bos_token"]?.bool ?? addBOSToken
        addEOSToken = json["add_eos_token"]?.bool ?? addEOSToken
        legacy = json["legacy"]?.bool ?? legacy
        addPrefixSpace = json["add_prefix_space"]?.bool ?? addPrefixSpace
        cleanUpTokenizationSpaces = json["clean_up_tokenization_spaces"]?.bool ?? cleanUpTokenizationSpaces
        if let decoder = json["added_tokens_decoder"]?.object {
            addedTokens = []
            for member in decoder {
                guard let id = Int(member.key), let content = member.value["content"]?.string else {
                    throw .invalidJSON(reason: "added_tokens_decoder entry \(member.key)")
                }
                addedTokens.append(AddedToken(
                    content: content, id: id, special: member.value["special"]?.bool ?? false,
                    lstrip: member.value["lstrip"]?.bool ?? false, rstrip: member.value["rstrip"]?.bool ?? false,
                    singleWord: member.value["single_word"]?.bool ?? false,
                    normalized: member.value["normalized"]?.bool ?? false))
            }
        }
    }
}

/// Picks and loads the tokenizer of a checkpoint directory the way HF's `AutoTokenizer` does.
public enum TokenizerLoader {
    /// Loads `tokenizer.model` (slow, `useFast: false`) or `tokenizer.json` (fast) from `directory`.
    ///
    /// MGM-7B/13B load Vicuna's tokenizer with `use_fast=False`; MGM-8B loads a fast tokenizer.
    /// When the preferred file is missing, the other one is used, as transformers falls back.
    /// - Throws: ``TokenizerError/fileNotReadable(path:)`` when neither file exists, or a load error.
    public static func load(directory: URL, useFast: Bool = true) throws(TokenizerError) -> any Tokenizer {
        let configuration = try TokenizerConfiguration(directory: directory)
        let modelURL = directory.appendingPathComponent("tokenizer.model")
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        let hasModel = FileManager.default.fileExists(atPath: modelURL.path)
        let hasJSON = FileManager.default.fileExists(atPath: jsonURL.path)
        if hasModel && (!useFast || !hasJSON) {
            return try SentencePieceTokenizer(modelURL: modelURL, options: sentencePieceOptions(configuration))
        }
        guard hasJSON else { throw .fileNotReadable(path: jsonURL.path) }
        let options = TokenizerJSON.Options(
            bosToken: configuration.bosToken, eosToken: configuration.eosToken,
            // transformers defaults to cleaning up, except the Llama and Gemma classes which set it off.
            cleanUpTokenizationSpaces: configuration.cleanUpTokenizationSpaces
                ?? !["Llama", "Gemma"].contains { configuration.tokenizerClass?.hasPrefix($0) ?? false })
        return try TokenizerJSON(url: jsonURL, options: options)
    }

    /// `LlamaTokenizer` defaults (transformers 4.40) overridden by the configuration.
    public static func sentencePieceOptions(_ configuration: TokenizerConfiguration) -> SentencePieceTokenizer.Options {
        var options = SentencePieceTokenizer.Options()
        options.addBOS = configuration.addBOSToken ?? true
        options.addEOS = configuration.addEOSToken ?? false
        options.legacy = configuration.legacy ?? true
        options.addPrefixSpace = configuration.addPrefixSpace ?? true
        options.bosToken = configuration.bosToken ?? options.bosToken
        options.eosToken = configuration.eosToken ?? options.eosToken
        options.unknownToken = configuration.unknownToken ?? options.unknownToken
        options.padToken = configuration.padToken
        options.additionalSpecialTokens = configuration.additionalSpecialTokens
        options.addedTokens = configuration.addedTokens
        options.cleanUpTokenizationSpaces = configuration.cleanUpTokenizationSpaces ?? false
        return options
    }
}
