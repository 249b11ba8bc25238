import Foundation
import MGTensor
import Testing
@testable import MGLanguage

/// Configuration decoding and load-time verification: every failure is a specific error.
@Suite("Decoder configuration and loading")
struct DecoderLoadingTests {
    static let llamaJSON = """
        {"model_type": "mgm", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "rms_norm_eps": 1e-5,
         "rope_theta": 500000.0, "eos_token_id": [2, 9], "mm_vision_tower": "openai/clip", "sliding_window": 4}
        """

    func configuration(_ json: String) throws(LanguageModelError) -> DecoderConfiguration {
        try DecoderConfiguration(jsonData: Data(json.utf8))
    }

    func edited(_ change: (inout [String: Any]) -> Void) throws -> String {
        var object = try JSONSerialization.jsonObject(with: Data(Self.llamaJSON.utf8)) as! [String: Any]
        change(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test("MGM model types map to the HF families")
    func registry() throws {
        let c = try configuration(Self.llamaJSON)
        #expect(c.family == .llama)
        #expect(c.headDimension == 8 && c.queryGroupSize == 2)
        #expect(c.eosTokenIDs == [2, 9])
        #expect(c.ropeTheta == 500_000)
        #expect(c.slidingWindow == nil)  // Llama ignores sliding_window
        for (type, family) in [("mgm_gemma", DecoderFamily.gemma), ("mgm_mixtral", .mixtral), ("mgm_mistral", .mistral), ("mistral", .mistral)] {
            let c = try configuration(try edited { $0["model_type"] = type })
            #expect(c.family == family)
        }
    }

    @Test("sliding_window: null disables the window, absent means Mistral's 4096")
    func slidingWindow() throws {
        let none = try configuration(try edited { $0["model_type"] = "mistral"; $0["sliding_window"] = NSNull() })
        #expect(none.slidingWindow == nil)
        let absent = try configuration(try edited { $0["model_type"] = "mistral"; $0.removeValue(forKey: "sliding_window") })
        #expect(absent.slidingWindow == 4096)
    }

    @Test("Gemma activation: hidden_activation wins, tanh by default, hidden_act ignored")
    func gemmaActivation() throws {
        let base = try edited { $0["model_type"] = "gemma"; $0["hidden_act"] = "gelu"; $0["head_dim"] = 16 }
        #expect(try configuration(base).activation == .gelu(.tanh))
        let exact = try edited { $0["model_type"] = "gemma"; $0["hidden_activation"] = "gelu" }
        #expect(try configuration(exact).activation == .gelu(.none))
        #expect(try configuration(base).tiedEmbeddings)
        #expect(try configuration(base).inputScale == Float(32).squareRoot())
    }

    @Test("unknown model_type")
    func unknownModelType() throws {
        #expect(throws: LanguageModelError.unsupportedModelType("qwen2")) {
            _ = try configuration(try edited { $0["model_type"] = "qwen2" })
        }
    }

    @Test("contradictory configurations name the key")
    func contradictions() throws {
        #expect(throws: LanguageModelError.invalidConfiguration(key: "hidden_size", reason: "30 is not divisible by num_attention_heads (4)")) {
            _ = try configuration(try edited { $0["hidden_size"] = 30 })
        }
        #expect(throws: LanguageModelError.invalidConfiguration(
            key: "num_key_value_heads", reason: "num_attention_heads (4) is not a multiple of num_key_value_heads (3)")) {
            _ = try configuration(try edited { $0["num_key_value_heads"] = 3 })
        }
        #expect(throws: LanguageModelError.self) { _ = try configuration(try edited { $0["num_hidden_layers"] = 0 }) }
        #expect(throws: LanguageModelError.self) { _ = try configuration(try edited { $0["hidden_size"] = "big" }) }
        #expect(throws: LanguageModelError.self) { _ = try configuration(try edited { $0.removeValue(forKey: "vocab_size") }) }
        #expect(throws: LanguageModelError.self) { _ = try configuration(try edited { $0["rope_scaling"] = ["type": "linear", "factor": 2.0] }) }
        #expect(throws: LanguageModelError.self) {
            _ = try configuration(try edited { $0["model_type"] = "mixtral"; $0["num_local_experts"] = 2; $0["num_experts_per_tok"] = 3 })
        }
    }

    @Test("a weight of the wrong shape names the key and both shapes")
    func shapeMismatch() throws {
        let directory = try DecoderFixture.directory("llama")
        let configuration = try DecoderConfiguration(contentsOf: URL(fileURLWithPath: directory))
        var store = try DictionaryWeightStore(copying: try ShardedSafetensors(contentsOf: URL(fileURLWithPath: directory)))
        store.tensors["model.layers.1.mlp.up_proj.weight"] = try Tensor.zeros([63, 32])
        #expect(throws: LanguageModelError.weightShapeMismatch(key: "model.layers.1.mlp.up_proj.weight", expected: [64, 32], actual: [63, 32])) {
            _ = try DecoderModel(configuration: configuration, weights: store)
        }
        store.tensors["model.layers.1.mlp.up_proj.weight"] = nil
        #expect(throws: LanguageModelError.missingWeight("model.layers.1.mlp.up_proj.weight")) {
            _ = try DecoderModel(configuration: configuration, weights: store)
        }
    }

    @Test("unused weights are reported; MGM's multimodal tensors are ignored")
    func unusedWeights() throws {
        let directory = try DecoderFixture.directory("gemma")
        let configuration = try DecoderConfiguration(contentsOf: URL(fileURLWithPath: directory))
        var store = try DictionaryWeightStore(copying: try ShardedSafetensors(contentsOf: URL(fileURLWithPath: directory)))
        let small = try Tensor.zeros([2])
        store.tensors["model.mm_projector.0.bias"] = small
        store.tensors["model.vision_tower.vision_tower.vision_model.post_layernorm.weight"] = small
        store.tensors["model.vlm_uni_query_projector.0.weight"] = small
        store.tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = small
        store.tensors["lm_head.weight"] = try store.tensor(named: "model.embed_tokens.weight")  // tied copy
        let model = try DecoderModel(configuration: configuration, weights: store)
        #expect(model.unusedWeightNames.isEmpty)
        store.tensors["model.layers.0.mlp.extra.weight"] = small
        #expect(throws: LanguageModelError.unusedWeights(["model.layers.0.mlp.extra.weight"])) {
            _ = try DecoderModel(configuration: configuration, weights: store)
        }
        let lenient = try DecoderModel(configuration: configuration, weights: store, options: .init(rejectsUnusedWeights: false))
        #expect(lenient.unusedWeightNames == ["model.layers.0.mlp.extra.weight"])
    }

    @Test("bad inputs to a forward pass")
    func badInputs() throws {
        let model = try DecoderFixture.model("llama")
        var cache = try model.newCache(maximumLength: 8)
        #expect(throws: LanguageModelError.invalidTokenID(64, vocabularySize: 64)) { _ = try model.forward(ids: [64], cache: &cache) }
        #expect(throws: LanguageModelError.self) { _ = try model.forward(ids: [], cache: &cache) }
        #expect(throws: LanguageModelError.self) { _ = try model.forward(inputEmbeddings: try Tensor.zeros([2, 31]), cache: &cache) }
        #expect(cache.length == 0)
    }
}
