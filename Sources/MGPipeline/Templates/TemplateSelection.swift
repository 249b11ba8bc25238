import Foundation
import MGLanguage

// Choosing the conversation template of a checkpoint from what its files say. The official CLI
// (MGM repo: mgm/serve/cli.py) picks it from the folder name, which sends MGM-8B (Llama-3) to
// vicuna_v1 and every model in a Hugging Face cache (`snapshots/<commit hash>/`) to vicuna_v1;
// that rule is kept as an explicit choice (``TemplateSelection/officialCLI``), not the default.

/// How the template of a loaded checkpoint is decided (``MiniGeminiLoadOptions/templateSelection``).
public enum TemplateSelection: Sendable, Equatable {
    /// From the tokenizer's special tokens and `config.json` (``TemplateChoice/fromFiles(_:)``).
    case automatic
    /// A registered template name (``ConversationTemplate/named(_:)``).
    case named(String)
    /// The official CLI's rule on the checkpoint folder's name
    /// (``TemplateChoice/officialCLIRule(modelPath:)``).
    case officialCLI

    /// The value of a `--template` argument: `auto`, `official-cli`, or a template name.
    public init(argument: String) {
        switch argument {
        case "auto", "automatic": self = .automatic
        case "official-cli": self = .officialCLI
        default: self = .named(argument)
        }
    }
}

/// The conversation template a model renders prompts with, and why it was chosen.
public struct TemplateChoice: Sendable, Equatable {
    /// Where a choice came from.
    public enum Source: String, Sendable, Equatable {
        /// Named by the caller.
        case explicit
        /// Decided from the tokenizer and `config.json`.
        case files
        /// The official CLI's folder-name rule.
        case officialCLIRule = "official-cli"
    }

    public let template: ConversationTemplate
    /// Why, in a few words, e.g. "tokenizer has <|start_header_id|>".
    public let reason: String
    public let source: Source

    public init(template: ConversationTemplate, reason: String, source: Source) {
        self.template = template
        self.reason = reason
        self.source = source
    }

    /// A registered template given by name.
    /// - Throws: ``MiniGeminiError/invalidRequest(_:)`` naming the known templates.
    public static func explicit(_ name: String) throws(MiniGeminiError) -> TemplateChoice {
        guard let template = ConversationTemplate.named(name) else {
            throw .invalidRequest(
                "unknown template '\(name)' (known: \(ConversationTemplate.registered.keys.sorted().joined(separator: ", ")), "
                    + "or official-cli)")
        }
        return TemplateChoice(template: template, reason: "--template \(name)", source: .explicit)
    }

    /// The model name the official CLI derives from a checkpoint path (`get_model_name_from_path`
    /// in mgm/mm_utils.py): the last path component, or `parent_checkpoint-N` for a training
    /// checkpoint folder.
    public static func officialModelName(forPath path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let last = parts.last else { return "" }
        if last.hasPrefix("checkpoint-"), parts.count >= 2 { return parts[parts.count - 2] + "_" + last }
        return last
    }

    /// The official CLI's rule: "8x7b" → `mistral_instruct`, "34b" → `chatml_direct`, "2b" →
    /// `gemma`, otherwise `vicuna_v1`, on the lowercased model name of the path. A known trap:
    /// MGM-8B gets `vicuna_v1`, and so does every model in a Hugging Face cache snapshot folder.
    public static func officialCLIRule(modelPath: String) -> TemplateChoice {
        let name = officialModelName(forPath: modelPath)
        let template = ConversationTemplate.officialChoice(forModelName: name)
        let lowered = name.lowercased()
        let matched = ["8x7b", "34b", "2b"].first { lowered.contains($0) }
        let reason = matched.map { "official CLI rule: folder name '\(name)' contains '\($0)'" }
            ?? "official CLI rule: folder name '\(name)' has none of 8x7b, 34b, 2b"
        return TemplateChoice(template: template, reason: reason, source: .officialCLIRule)
    }

    /// The template the checkpoint's files imply. Rules, first match wins:
    /// 1. the tokenizer has `<|start_header_id|>` (Llama-3 header token) → `llama_3`;
    /// 2. it has `<start_of_turn>` (Gemma) → `gemma`;
    /// 3. it has `<|im_start|>` (ChatML, e.g. Nous-Hermes-2-Yi-34B) → `chatml_direct`;
    /// 4. it has `[INST]` as one special token (Mistral's control tokens) → `mistral_instruct`;
    /// 5. `config.json`: a Gemma `model_type`/architecture → `gemma`; Mixtral or Mistral →
    ///    `mistral_instruct` (Mixtral-8x7B-Instruct v0.1 writes `[INST]` as plain text, so its
    ///    tokenizer has no such token); a Llama with the 128,256-entry Llama-3 vocabulary → `llama_3`;
    /// 6. otherwise `vicuna_v1` (Vicuna-1.5, MGM-7B/13B).
    ///
    /// Tokens come first because they are what the model was trained to read; the configuration is
    /// the fallback for tokenizer files that lack the family's added tokens.
    public static func fromFiles(_ evidence: TemplateEvidence) -> TemplateChoice {
        let tokenRules: [(token: String, template: ConversationTemplate)] = [
            ("<|start_header_id|>", .llama3), ("<start_of_turn>", .gemma), ("<|im_start|>", .chatMLDirect),
            ("[INST]", .mistralInstruct),
        ]
        for rule in tokenRules where evidence.tokens.contains(rule.token) {
            return TemplateChoice(template: rule.template, reason: "tokenizer has \(rule.token)", source: .files)
        }
        let described = evidence.configDescription
        let architectures = evidence.architectures.joined(separator: " ").lowercased()
        if evidence.family == .gemma || architectures.contains("gemma") {
            return TemplateChoice(template: .gemma, reason: "config.json \(described) is Gemma", source: .files)
        }
        if evidence.family == .mixtral || evidence.family == .mistral || architectures.contains("mixtral") || architectures.contains("mistral") {
            return TemplateChoice(template: .mistralInstruct, reason: "config.json \(described) is Mistral/Mixtral", source: .files)
        }
        if evidence.family == .llama, evidence.vocabularySize == TemplateEvidence.llama3VocabularySize {
            return TemplateChoice(
                template: .llama3, reason: "config.json vocab_size \(TemplateEvidence.llama3VocabularySize) is the Llama-3 vocabulary",
                source: .files)
        }
        return TemplateChoice(
            template: .vicunaV1,
            reason: "no chat markup token (\(tokenRules.map(\.token).joined(separator: ", "))) in the tokenizer and config.json \(described): Vicuna",
            source: .files)
    }

    /// The choice a ``TemplateSelection`` makes for a checkpoint.
    /// - Throws: ``MiniGeminiError/invalidRequest(_:)`` for an unknown template name.
    public static func choose(
        _ selection: TemplateSelection, evidence: @autoclosure () -> TemplateEvidence, modelPath: String
    ) throws(MiniGeminiError) -> TemplateChoice {
        switch selection {
        case .named(let name): try explicit(name)
        case .officialCLI: officialCLIRule(modelPath: modelPath)
        case .automatic: fromFiles(evidence())
        }
    }

    /// A warning when the official CLI's folder-name rule would render prompts with a different
    /// template than this choice, or `nil` when they agree.
    public func officialCLIDisagreement(modelPath: String) -> String? {
        let official = Self.officialCLIRule(modelPath: modelPath)
        guard official.template.name != template.name else { return nil }
        return "the official MGM CLI would use template \(official.template.name) (\(official.reason)); "
            + "using \(template.name) (\(reason))"
    }
}

/// What a checkpoint's files say about its chat format: the markup tokens its tokenizer knows and
/// the language model's `config.json` fields.
public struct TemplateEvidence: Sendable, Equatable {
    /// The 128,256-entry Llama-3 vocabulary (128,000 BPE tokens + 256 special tokens).
    public static let llama3VocabularySize = 128_256
    /// The markup tokens ``TemplateChoice/fromFiles(_:)`` looks for.
    public static let markupTokens = ["<|start_header_id|>", "<start_of_turn>", "<|im_start|>", "[INST]"]

    /// The markup tokens the tokenizer has as single vocabulary entries or added tokens (`[INST]`
    /// only as a special token).
    public var tokens: Set<String>
    /// `config.json` `model_type`.
    public var modelType: String
    /// `config.json` `architectures`.
    public var architectures: [String]
    /// The decoder family `model_type` maps to.
    public var family: DecoderFamily
    /// `config.json` `vocab_size`.
    public var vocabularySize: Int

    public init(tokens: Set<String>, modelType: String, architectures: [String] = [], family: DecoderFamily, vocabularySize: Int) {
        self.tokens = tokens
        self.modelType = modelType
        self.architectures = architectures
        self.family = family
        self.vocabularySize = vocabularySize
    }

    /// The evidence of a loaded tokenizer and configuration; `architectures` is read from the
    /// checkpoint's `config.json` (left empty when unreadable).
    public init(tokenizer: any Tokenizer, configuration: DecoderConfiguration, directory: URL) {
        var found = Set<String>()
        for token in Self.markupTokens {
            guard let id = tokenizer.tokenID(for: token) else { continue }
            // "[INST]" could be an ordinary merged piece of some vocabulary; only Mistral's control
            // token counts. The other three never occur as plain text pieces.
            if token == "[INST]" && !tokenizer.isSpecialToken(id) { continue }
            found.insert(token)
        }
        var architectures: [String] = []
        if let data = FileManager.default.contents(atPath: directory.appendingPathComponent("config.json").path),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            architectures = object["architectures"] as? [String] ?? []
        }
        self.init(
            tokens: found, modelType: configuration.modelType, architectures: architectures, family: configuration.family,
            vocabularySize: configuration.vocabularySize)
    }

    var configDescription: String {
        "model_type \(modelType)" + (architectures.isEmpty ? "" : " (\(architectures.joined(separator: ", ")))")
    }
}
