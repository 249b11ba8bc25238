import Foundation
import MGLanguage
import MGTensor
import MGTestSupport
import Testing
@testable import MGPipeline

/// A tokenizer over bytes: id = byte + 2; 0 is BOS, 1 is EOS.
private struct ByteTokenizer: Tokenizer {
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int] { (addSpecialTokens ? [0] : []) + text.utf8.map { Int($0) + 2 } }
    func decode(_ ids: [Int], skipSpecialTokens: Bool) -> String {
        String(decoding: ids.compactMap { $0 >= 2 && $0 < 258 ? UInt8($0 - 2) : nil }, as: UTF8.self)
    }
    var bosTokenID: Int? { 0 }
    var eosTokenID: Int? { 1 }
    var vocabularySize: Int { 258 }
    func tokenID(for token: String) -> Int? { token.utf8.count == 1 ? Int(token.utf8.first!) + 2 : nil }
    func token(for id: Int) -> String? { id >= 2 && id < 258 ? decode([id], skipSpecialTokens: true) : nil }
    func isSpecialToken(_ id: Int) -> Bool { id < 2 }
}

private func tinyConfiguration(maximumPositions: Int = 4096) throws -> DecoderConfiguration {
    let json = """
        {"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 258, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "max_position_embeddings": \(maximumPositions), "bos_token_id": 0, "eos_token_id": 1}
        """
    return try DecoderConfiguration(jsonData: Data(json.utf8))
}

/// A language model that writes a fixed text: forward pass `k` puts all probability on token `k`
/// of the script (EOS after it), whatever the input. It records the prompt ids it was given.
private final class ScriptedModel: CausalLanguageModel, @unchecked Sendable {
    let configuration: DecoderConfiguration
    private let script: [Int]
    private let lock = NSLock()
    private var calls = 0
    private var embedded: [[Int]] = []

    init(writing text: String, maximumPositions: Int = 4096) throws {
        configuration = try tinyConfiguration(maximumPositions: maximumPositions)
        script = ByteTokenizer().encode(text, addSpecialTokens: false)
    }

    var promptIDs: [Int]? { lock.withLock { embedded.first } }

    func embed(ids: [Int]) throws(LanguageModelError) -> Tensor {
        lock.withLock { embedded.append(ids) }
        do { return try Tensor(shape: [ids.count, configuration.hiddenSize], values: Array(repeating: 0, count: ids.count * configuration.hiddenSize)) } catch {
            throw .tensor(error)
        }
    }

    func forward(inputEmbeddings: Tensor, cache: inout KVCache, logits: LogitsSelection) throws(LanguageModelError) -> Tensor {
        let index = lock.withLock { () -> Int in
            defer { calls += 1 }
            return calls
        }
        var row = Array(repeating: Float(-10), count: configuration.vocabularySize)
        row[index < script.count ? script[index] : 1] = 10
        do { return try Tensor(shape: [1, configuration.vocabularySize], values: row) } catch { throw .tensor(error) }
    }
}

@Suite("Reasoning generation: in-context re-captioning")
struct InContextRecaptionerTests {
    @Test("the few-shot prompt text, exactly")
    func promptText() throws {
        let recaptioner = InContextRecaptioner(
            examples: [RecaptionExample(input: "a cat\non a mat", prompt: "fluffy cat on a woven mat, soft light")],
            instruction: "Rewrite it.")
        #expect(try recaptioner.promptText(for: "  a dog\n\n at the beach ") == """
            Rewrite it.

            Input: a cat on a mat
            Prompt: <h>fluffy cat on a woven mat, soft light</h>

            Input: a dog at the beach
            Prompt: <h>
            """)
        let defaults = try InContextRecaptioner().promptText(for: "a dog")
        #expect(defaults.hasPrefix(InContextRecaptioner.defaultInstruction + "\n\nInput: Draw a cat sleeping on a windowsill.\nPrompt: <h>a ginger cat"))
        #expect(defaults.hasSuffix("</h>\n\nInput: a dog\nPrompt: <h>"))
        // One closing tag per example, one in the instruction ("Wrap the prompt in <h> and </h>.").
        #expect(defaults.components(separatedBy: "</h>").count == InContextRecaptioner.defaultExamples.count + 2)
        #expect(throws: MiniGeminiError.self) { try recaptioner.promptText(for: " \n ") }
    }

    @Test("with a conversation template the few-shot text is the user turn and the answer is primed")
    func templated() throws {
        let recaptioner = InContextRecaptioner(
            examples: [RecaptionExample(input: "a cat", prompt: "a cat")], instruction: "Rewrite it.", template: .vicunaV1)
        let text = try recaptioner.promptText(for: "a dog")
        #expect(text == ConversationTemplate.vicunaV1.system + " USER: Rewrite it.\n\nInput: a cat\nPrompt: <h>a cat</h>\n\nInput: a dog ASSISTANT: <h>")
    }

    @Test("a model that closes the tag: the prompt is extracted and generation stops there")
    func closed() throws {
        let model = try ScriptedModel(writing: " a red fox in fresh snow, golden hour</h>\n\nInput: more text")
        let tokenizer = ByteTokenizer()
        let recaptioner = InContextRecaptioner()
        let result = try recaptioner.recaption("a fox in winter", model: model, tokenizer: tokenizer)
        #expect(model.promptIDs == tokenizer.encode(result.promptText, addSpecialTokens: true))
        #expect(result.generatedText == " a red fox in fresh snow, golden hour")
        #expect(result.extraction.prompt == " a red fox in fresh snow, golden hour")
        #expect(result.prompt == "a red fox in fresh snow, golden hour")
        #expect(result.info.stopReason == .stopString("</h>"))
    }

    @Test("a model that never closes the tag yields no prompt, with the reason")
    func unclosed() throws {
        let tokenizer = ByteTokenizer()
        let rambling = try InContextRecaptioner().recaption("a fox", model: try ScriptedModel(writing: "a fox\nInput: a cat"), tokenizer: tokenizer)
        #expect(rambling.prompt == nil && rambling.extraction.noPromptReason == .unclosed)
        #expect(rambling.info.stopReason == .stopString("\nInput:"))
        let ended = try InContextRecaptioner().recaption("a fox", model: try ScriptedModel(writing: "a fox"), tokenizer: tokenizer)
        #expect(ended.prompt == nil && ended.info.stopReason == .stopToken(1))
        let empty = try InContextRecaptioner().recaption("a fox", model: try ScriptedModel(writing: " </h>"), tokenizer: tokenizer)
        #expect(empty.prompt == nil && empty.extraction.noPromptReason == .emptyPrompt)
    }

    @Test("a prompt longer than the context is refused before generating")
    func tooLong() throws {
        let model = try ScriptedModel(writing: "x</h>", maximumPositions: 64)
        #expect(throws: MiniGeminiError.self) { try InContextRecaptioner().recaption("a fox", model: model, tokenizer: ByteTokenizer()) }
        #expect(model.promptIDs == nil)
    }

    @Test("a tiny random Llama runs through the same path as a direct greedy generation")
    func randomDecoder() throws {
        let configuration = try tinyConfiguration()
        let shapes: [String: [Int]] = [
            "model.embed_tokens.weight": [258, 16], "lm_head.weight": [258, 16], "model.norm.weight": [16],
            "model.layers.0.input_layernorm.weight": [16], "model.layers.0.post_attention_layernorm.weight": [16],
            "model.layers.0.self_attn.q_proj.weight": [16, 16], "model.layers.0.self_attn.k_proj.weight": [16, 16],
            "model.layers.0.self_attn.v_proj.weight": [16, 16], "model.layers.0.self_attn.o_proj.weight": [16, 16],
            "model.layers.0.mlp.gate_proj.weight": [32, 16], "model.layers.0.mlp.up_proj.weight": [32, 16],
            "model.layers.0.mlp.down_proj.weight": [16, 32],
        ]
        var tensors: [String: Tensor] = [:]
        for (index, (name, shape)) in shapes.sorted(by: { $0.key < $1.key }).enumerated() {
            tensors[name] = try DeterministicData.tensor(seed: UInt64(index + 1), shape: shape)
        }
        let model = try DecoderModel(configuration: configuration, weights: RecaptionWeightStore(tensors: tensors))
        let tokenizer = ByteTokenizer()
        var recaptioner = InContextRecaptioner(examples: [RecaptionExample(input: "a cat", prompt: "a cat")], instruction: "")
        recaptioner.parameters.maximumTokens = 6
        let result = try recaptioner.recaption("a dog", model: model, tokenizer: tokenizer)

        // Reference: greedy tokens straight from the iterator on the same prompt ids.
        let ids = tokenizer.encode("Input: a cat\nPrompt: <h>a cat</h>\n\nInput: a dog\nPrompt: <h>", addSpecialTokens: true)
        #expect(result.info.promptTokenCount == ids.count)
        let iterator = try TokenIterator(model: model, prompt: .tokens(ids), parameters: GenerationParameters(maximumTokens: 6), extraStopTokenIDs: [1])
        let expected = tokenizer.decode(Array(iterator), skipSpecialTokens: true)
        // Random weights write bytes that are not a prompt (and, for these seeds, no stop string).
        #expect(!InContextRecaptioner.stopStrings.contains(where: expected.contains))
        #expect(result.generatedText == expected)
        #expect(result.info.generatedTokenCount == 6 && result.info.stopReason == .maximumTokens)
        #expect(result.prompt == nil && result.extraction.noPromptReason == .unclosed)
    }
}

private struct RecaptionWeightStore: WeightStore {
    let tensors: [String: Tensor]
    var names: [String] { tensors.keys.sorted() }
    func contains(_ name: String) -> Bool { tensors[name] != nil }
    func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let tensor = tensors[name] else { throw .tensorNotFound(path: "memory", tensor: name) }
        return tensor
    }
}
