import Foundation
import MGLanguage
import MGPipeline
import MGTestSupport
import Testing

/// The conversation template chosen from a checkpoint's tokenizer and `config.json` instead of its
/// folder name; the official CLI's folder-name rule as an explicit choice.
@Suite("Template selection")
struct TemplateSelectionTests {
    static let families: [(checkpoint: String, template: String, reason: String)] = [
        ("MGM-7B-tiny", "vicuna_v1", "no chat markup token"),
        ("MGM-7B-HD-tiny", "vicuna_v1", "no chat markup token"),
        ("MGM-2B-tiny", "gemma", "tokenizer has <start_of_turn>"),
        ("MGM-8x7B-tiny", "mistral_instruct", "config.json model_type mgm_mixtral (MGMMixtralForCausalLM) is Mistral/Mixtral"),
        ("MGM-8B-tiny", "llama_3", "tokenizer has <|start_header_id|>"),
    ]

    @Test("each tiny checkpoint family gets its template from its files, in a plain folder and an HF snapshot folder")
    func tinyFamilies() throws {
        for family in Self.families {
            let snapshot = try HubSnapshotFolder(of: family.checkpoint)
            defer { snapshot.remove() }
            for folder in [try EndToEndFixtures.checkpoint(family.checkpoint), snapshot.snapshot] {
                let configuration = try MiniGeminiConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
                let useFast = configuration.decoder.family == .gemma || configuration.decoder.family == .mixtral
                let tokenizer = try TokenizerLoader.load(directory: folder, useFast: useFast)
                let choice = TemplateChoice.fromFiles(TemplateEvidence(tokenizer: tokenizer, configuration: configuration.decoder, directory: folder))
                print("\(family.checkpoint) (\(folder.lastPathComponent)): template \(choice.template.name) (\(choice.reason))")
                #expect(choice.template.name == family.template, "\(family.checkpoint): \(choice.template.name) (\(choice.reason))")
                #expect(choice.reason.hasPrefix(family.reason), "\(family.checkpoint): \(choice.reason)")
                #expect(choice.source == .files)
            }
            // The folder-name rule gets the snapshot folder wrong for every family but Vicuna.
            let official = TemplateChoice.officialCLIRule(modelPath: snapshot.snapshot.path)
            #expect(official.template.name == "vicuna_v1" && official.reason.contains(HubSnapshotFolder.commit))
        }
    }

    @Test("the rules: Llama-3 header, Gemma turn, ChatML and [INST] tokens, then config.json")
    func rules() {
        func choose(_ tokens: Set<String>, _ modelType: String = "mgm", family: DecoderFamily = .llama, vocabulary: Int = 32000) -> TemplateChoice {
            TemplateChoice.fromFiles(TemplateEvidence(tokens: tokens, modelType: modelType, family: family, vocabularySize: vocabulary))
        }
        #expect(choose(["<|start_header_id|>"], vocabulary: 128_256) == TemplateChoice(template: .llama3, reason: "tokenizer has <|start_header_id|>", source: .files))
        #expect(choose(["<start_of_turn>"], "mgm_gemma", family: .gemma).template == .gemma)
        // Nous-Hermes-2-Yi-34B (MGM-34B): a Llama config whose vocabulary has ChatML's tokens.
        #expect(choose(["<|im_start|>"], vocabulary: 64000) == TemplateChoice(template: .chatMLDirect, reason: "tokenizer has <|im_start|>", source: .files))
        #expect(choose(["[INST]"], "mistral", family: .mistral).reason == "tokenizer has [INST]")
        #expect(choose([], "mgm_mixtral", family: .mixtral).template == .mistralInstruct)
        #expect(choose([], "mgm_gemma", family: .gemma).template == .gemma)
        // A Llama-3 tokenizer file without its added tokens still has the Llama-3 vocabulary size.
        #expect(choose([], vocabulary: 128_256).reason == "config.json vocab_size 128256 is the Llama-3 vocabulary")
        #expect(choose([]).template == .vicunaV1)
        // Tokens win over the configuration.
        #expect(choose(["<|im_start|>"], "mgm_mixtral", family: .mixtral).template == .chatMLDirect)
    }

    @Test("the real Llama-2 and Llama-3 vocabularies pick vicuna_v1 and llama_3 from their tokens", .enabled(if: TemplateSelectionTests.sharedVocabulary != nil))
    func realVocabularies() throws {
        let root = try #require(Self.sharedVocabulary)
        for (folder, useFast, expected) in [("llama2", false, "vicuna_v1"), ("llama3", true, "llama_3")] {
            let tokenizer = try TokenizerLoader.load(directory: root.appendingPathComponent(folder), useFast: useFast)
            let tokens = Set(TemplateEvidence.markupTokens.filter { tokenizer.tokenID(for: $0) != nil })
            // vocabularySize 0 so that only the tokens can decide.
            let choice = TemplateChoice.fromFiles(TemplateEvidence(tokens: tokens, modelType: "mgm", family: .llama, vocabularySize: 0))
            print("\(folder): template \(choice.template.name) (\(choice.reason))")
            #expect(choice.template.name == expected, "\(folder): \(choice.reason)")
        }
    }

    /// A Llama-3 layout (MGM-8B): `tokenizer.json` only (byte-level BPE) with the header tokens as
    /// added special tokens, and a `mgm` (Llama) config, in a snapshot-like folder named by a hash.
    @Test("an MGM-8B-style folder (byte-level tokenizer.json with Llama-3 header tokens) gets llama_3")
    func llama3Layout() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-llama3-\(UUID().uuidString)/\(HubSnapshotFolder.commit)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        let added = specials.enumerated().map { index, content in
            ["id": 256 + index, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true] as [String: Any]
        }
        // The 256 byte-level symbols (bytes 33…126 as themselves, the rest shifted to U+0100…).
        var vocabulary: [String: Int] = [:]
        var shifted = 0
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            let scalar = printable ? byte : 256 + shifted
            if !printable { shifted += 1 }
            vocabulary[String(Character(try #require(Unicode.Scalar(scalar))))] = byte
        }
        let tokenizer: [String: Any] = [
            "version": "1.0", "added_tokens": added, "normalizer": NSNull(),
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "post_processor": ["type": "TemplateProcessing",
                               "single": [["SpecialToken": ["id": "<|begin_of_text|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                               "pair": [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]],
                               "special_tokens": ["<|begin_of_text|>": ["id": "<|begin_of_text|>", "ids": [256], "tokens": ["<|begin_of_text|>"]]]],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "vocab": vocabulary, "merges": [String]()],
        ]
        try JSONSerialization.data(withJSONObject: tokenizer).write(to: folder.appendingPathComponent("tokenizer.json"))
        try JSONSerialization.data(withJSONObject: ["bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tokenizer_class": "PreTrainedTokenizerFast"])
            .write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let source = try Data(contentsOf: try EndToEndFixtures.checkpoint("MGM-7B-tiny").appendingPathComponent("config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: source) as? [String: Any])
        config["vocab_size"] = 256 + specials.count
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))

        let configuration = try MiniGeminiConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        // The official loader asks for the slow tokenizer; with no tokenizer.model the json is used.
        let loaded = try TokenizerLoader.load(directory: folder, useFast: false)
        #expect(loaded.tokenID(for: "<|start_header_id|>") == 258)
        let choice = TemplateChoice.fromFiles(TemplateEvidence(tokenizer: loaded, configuration: configuration.decoder, directory: folder))
        print("MGM-8B layout (\(folder.lastPathComponent)): template \(choice.template.name) (\(choice.reason))")
        #expect(choice == TemplateChoice(template: .llama3, reason: "tokenizer has <|start_header_id|>", source: .files))
        #expect(TemplateChoice.officialCLIRule(modelPath: folder.path).template == .vicunaV1)
    }

    static let sharedVocabulary: URL? = {
        let url = SharedResources.packageRoot.appendingPathComponent("../shared/vocab").standardizedFileURL
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("llama3/tokenizer.json").path) else {
            print("skipping: \(url.path) is absent (the real vocabularies live next to the package checkout)")
            return nil
        }
        return url
    }()

    @Test("the official CLI's name rule, its model name and the disagreement warning")
    func officialRule() throws {
        #expect(TemplateChoice.officialCLIRule(modelPath: "/models/MGM-8x7B-HD").template == .mistralInstruct)
        #expect(TemplateChoice.officialCLIRule(modelPath: "/models/MGM-34B/").template == .chatMLDirect)
        #expect(TemplateChoice.officialCLIRule(modelPath: "work_dirs/MGM-2B/checkpoint-500").template == .gemma)
        #expect(TemplateChoice.officialModelName(forPath: "work_dirs/MGM-2B/checkpoint-500") == "MGM-2B_checkpoint-500")
        // In an HF cache the rule reads the commit hash: one with "2b" in it means Gemma.
        #expect(TemplateChoice.officialCLIRule(modelPath: "/hub/models--org--MGM-7B/snapshots/3f7c0a2b9e4d1c8a6b5f0e2d7c9a1b3e4f6a8c0d").template == .gemma)
        let eight = TemplateChoice.officialCLIRule(modelPath: "/models/MGM-8B-HD")
        #expect(eight.template == .vicunaV1 && eight.source == .officialCLIRule)
        let llama3 = TemplateChoice(template: .llama3, reason: "tokenizer has <|start_header_id|>", source: .files)
        let warning = try #require(llama3.officialCLIDisagreement(modelPath: "/models/MGM-8B-HD"))
        #expect(warning.contains("vicuna_v1") && warning.contains("llama_3"))
        #expect(eight.officialCLIDisagreement(modelPath: "/models/MGM-8B-HD") == nil)
        #expect(throws: MiniGeminiError.self) { try TemplateChoice.explicit("no_such_template") }
        #expect(try TemplateChoice.explicit("llama_3").source == .explicit)
        #expect(TemplateSelection(argument: "official-cli") == .officialCLI && TemplateSelection(argument: "gemma") == .named("gemma"))
    }

    @Test("load options: automatic by default, a name, or the official CLI's rule")
    func loadOptions() throws {
        let snapshot = try HubSnapshotFolder(of: "MGM-2B-tiny")
        defer { snapshot.remove() }
        let automatic = try MiniGemini(directory: snapshot.snapshot)
        #expect(automatic.template == .gemma && automatic.templateChoice.source == .files)
        var options = MiniGeminiLoadOptions()
        options.templateSelection = .officialCLI
        let official = try MiniGemini(directory: snapshot.snapshot, options: options)
        #expect(official.template == .vicunaV1 && official.templateChoice.source == .officialCLIRule)
        let named = try MiniGemini(directory: snapshot.snapshot, options: .init(templateName: "chatml_direct"))
        #expect(named.template == .chatMLDirect && named.templateChoice.source == .explicit)
        #expect(throws: MiniGeminiError.self) { try MiniGemini(directory: snapshot.snapshot, options: .init(templateName: "nope")) }
    }

    /// The case: a Llama-3 checkpoint under the official CLI's rule gets vicuna_v1, whose
    /// prompt is not the one the model was trained with; the choice from its files renders the golden's.
    @Test("MGM-8B-tiny: the name rule's vicuna_v1 prompt differs from the golden, the files' llama_3 prompt equals it")
    func llama3NameRuleTrap() throws {
        let name = try #require(EndToEndFixtures.caseNames.first { $0 == "MGM-8B-tiny--text-only" })
        let golden = try EndToEndCase(name)
        let folder = try EndToEndFixtures.checkpoint(golden.checkpoint)
        var options = MiniGeminiLoadOptions()
        options.templateSelection = .officialCLI
        let request = MiniGeminiRequest(question: golden.question, parameters: EndToEndCase.parameters)
        let official = try MiniGemini(directory: folder, options: options)
        #expect(official.template == .vicunaV1)
        #expect(official.promptText(for: request) != golden.golden.metadata["prompt"])
        let automatic = try MiniGemini(directory: folder)
        #expect(automatic.promptText(for: request) == golden.golden.metadata["prompt"])
        #expect(golden.golden.metadata["conv_mode"] == "llama_3")
    }

    @Test("mgm run prints the template and its reason, warns when the name rule differs, and puts both in --json")
    func commandLine() throws {
        let snapshot = try HubSnapshotFolder(of: "MGM-2B-tiny")
        defer { snapshot.remove() }
        let base = ["run", "--model", snapshot.snapshot.path, "--temperature", "0", "--max-tokens", "2"]
        let progress = try CommandLineTests.run(base + ["hi"])
        #expect(progress.status == 0, "\(progress.error)")
        #expect(progress.error.contains("template: gemma (tokenizer has <start_of_turn>)"), "\(progress.error)")
        #expect(progress.error.contains("mgm: warning: the official MGM CLI would use template vicuna_v1"), "\(progress.error)")

        let json = try CommandLineTests.run(base + ["--json", "hi"])
        #expect(json.status == 0, "\(json.error)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["template"] as? String == "gemma")
        #expect(object["template_reason"] as? String == "tokenizer has <start_of_turn>")

        let official = try CommandLineTests.run(base + ["--template", "official-cli", "--json", "hi"])
        let officialObject = try #require(try JSONSerialization.jsonObject(with: Data(official.output.utf8)) as? [String: Any])
        #expect(officialObject["template"] as? String == "vicuna_v1")
        #expect(!official.error.contains("warning"), "\(official.error)")
    }
}
