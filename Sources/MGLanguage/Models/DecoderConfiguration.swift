import Foundation
import MGTensor

/// The decoder architectures MGLanguage implements. They share one pre-norm transformer and
/// differ in the MLP (dense SwiGLU/GeGLU or sparse mixture of experts), the norm parameterisation,
/// the input scaling and the attention window.
public enum DecoderFamily: String, Sendable, CaseIterable {
    /// Llama 2 / Vicuna, Llama 3 and Yi: GQA, SwiGLU MLP.
    case llama
    /// Mistral: Llama plus an optional sliding attention window.
    case mistral
    /// Mixtral: Mistral with a sparse mixture-of-experts MLP (router → top-k experts).
    case mixtral
    /// Gemma: multi-query attention, `(1 + w)` RMSNorm, GeGLU MLP, embeddings × √hidden, tied head.
    case gemma

    /// `config.json` `model_type` → family: the HF names and Mini-Gemini's wrappers
    /// (`MGMLlamaForCausalLM` is `mgm`, `MGMGemmaForCausalLM` is `mgm_gemma`, …).
    public static let registry: [String: DecoderFamily] = [
        "llama": .llama, "mgm": .llama,
        "mistral": .mistral, "mgm_mistral": .mistral,
        "mixtral": .mixtral, "mgm_mixtral": .mixtral,
        "gemma": .gemma, "mgm_gemma": .gemma,
    ]
}

/// The activation of a decoder's gated MLP: `down(act(gate(x)) ⊙ up(x))`.
public enum DecoderActivation: Sendable, Hashable {
    /// SiLU (SwiGLU): Llama, Mistral, Mixtral.
    case silu
    /// GELU (GeGLU): Gemma, exact (`gelu`) or tanh-approximate (`gelu_pytorch_tanh`).
    case gelu(GELUApproximation)

    /// The activation named by an HF `hidden_act` string, or nil for names we do not implement.
    public init?(huggingFaceName name: String) {
        switch name {
        case "silu", "swish": self = .silu
        case "gelu": self = .gelu(.none)
        case "gelu_pytorch_tanh", "gelu_new", "gelu_fast": self = .gelu(.tanh)
        default: return nil
        }
    }
}

/// A decoder's hyper-parameters, decoded from a Hugging Face `config.json`.
///
/// Values are public and mutable so a caller can adjust one before loading (for instance Gemma's
/// ``activation``, see below); ``validate()`` runs again when a model is loaded.
///
/// Gemma's activation follows transformers ≥ 4.39: `hidden_activation` when the config has it,
/// otherwise tanh-approximate GELU whatever `hidden_act` says (gemma-2b-it ships
/// `hidden_act: "gelu"`). transformers 4.38 applied `hidden_act` literally (exact erf GELU); set
/// `activation = .gelu(.none)` to reproduce that environment.
public struct DecoderConfiguration: Sendable, Equatable {
    public var family: DecoderFamily
    /// `model_type` as written in the file (`mgm_gemma`, `llama`, …).
    public var modelType: String
    public var hiddenSize: Int
    /// Inner width of the MLP (of each expert for Mixtral).
    public var intermediateSize: Int
    public var layerCount: Int
    public var attentionHeads: Int
    public var keyValueHeads: Int
    public var headDimension: Int
    public var vocabularySize: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Float
    public var maximumPositions: Int
    /// Mistral's attention window (each query sees itself and the `window − 1` keys before it);
    /// nil for full causal attention.
    public var slidingWindow: Int?
    /// Biases on the q/k/v/o projections (Llama `attention_bias`).
    public var attentionBias: Bool
    /// `lm_head` shares the embedding matrix.
    public var tiedEmbeddings: Bool
    public var activation: DecoderActivation
    /// Mixtral: experts per layer and experts chosen per token (nil for dense families).
    public var expertCount: Int?
    public var expertsPerToken: Int?
    public var bosTokenID: Int?
    /// End-of-sequence ids (`eos_token_id` may be a number or a list).
    public var eosTokenIDs: [Int]

    /// Query heads per key/value head.
    public var queryGroupSize: Int { attentionHeads / keyValueHeads }
    /// Gemma multiplies every input row by `√hidden`; 1 for the other families.
    public var inputScale: Float { family == .gemma ? Float(hiddenSize).squareRoot() : 1 }
}

// MARK: - Decoding

extension DecoderConfiguration {
    /// Reads and decodes `config.json` (in a checkpoint directory, or the file itself).
    /// - Throws: ``LanguageModelError/invalidConfiguration(key:reason:)`` when the file cannot be
    ///   read or parsed, ``LanguageModelError/unsupportedModelType(_:)``, and the errors of ``validate()``.
    public init(contentsOf url: URL) throws(LanguageModelError) {
        let path = url.path
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("config.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .invalidConfiguration(key: "config.json", reason: "cannot read \(file)")
        }
        try self.init(jsonData: data)
    }

    /// Decodes an HF `config.json`, picking the family from `model_type`.
    /// - Throws: ``LanguageModelError/unsupportedModelType(_:)`` for an unknown `model_type`,
    ///   ``LanguageModelError/invalidConfiguration(key:reason:)`` for missing, mistyped or
    ///   contradictory values.
    public init(jsonData: Data) throws(LanguageModelError) {
        let raw: RawConfiguration
        do {
            raw = try JSONDecoder().decode(RawConfiguration.self, from: jsonData)
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw .invalidConfiguration(key: "config.json", reason: "\(error)")
        }
        guard let modelType = raw.model_type else {
            throw .invalidConfiguration(key: "model_type", reason: "missing")
        }
        guard let family = DecoderFamily.registry[modelType] else { throw .unsupportedModelType(modelType) }
        func required(_ value: Int?, _ key: String) throws(LanguageModelError) -> Int {
            guard let value else { throw .invalidConfiguration(key: key, reason: "missing") }
            return value
        }
        let hidden = try required(raw.hidden_size, "hidden_size")
        let heads = try required(raw.num_attention_heads, "num_attention_heads")
        if raw.head_dim == nil, heads > 0, hidden % heads != 0 {
            throw .invalidConfiguration(
                key: "hidden_size", reason: "\(hidden) is not divisible by num_attention_heads (\(heads))")
        }
        if let scaling = raw.rope_scaling ?? raw.rope_parameters?.rope_type.map({ RopeScaling(type: $0, rope_type: nil) }),
            let type = scaling.type ?? scaling.rope_type, type != "default"
        {
            throw .invalidConfiguration(key: "rope_scaling", reason: "RoPE scaling \"\(type)\" is not supported")
        }
        if raw.mlp_bias == true { throw .invalidConfiguration(key: "mlp_bias", reason: "MLP biases are not supported") }

        let activationName: String
        if family == .gemma {
            activationName = raw.hidden_activation ?? "gelu_pytorch_tanh"
        } else {
            activationName = raw.hidden_act ?? "silu"
        }
        guard let activation = DecoderActivation(huggingFaceName: activationName) else {
            throw .invalidConfiguration(
                key: family == .gemma ? "hidden_activation" : "hidden_act", reason: "unsupported activation \"\(activationName)\"")
        }
        var window: Int? = nil
        if family == .mistral || family == .mixtral {
            // HF's MistralConfig defaults to a 4096 window when the key is absent; `null` disables it.
            window = raw.sliding_window.isPresent ? raw.sliding_window.value : (family == .mistral ? 4096 : nil)
        }
        self.init(
            family: family, modelType: modelType, hiddenSize: hidden,
            intermediateSize: try required(raw.intermediate_size, "intermediate_size"),
            layerCount: try required(raw.num_hidden_layers, "num_hidden_layers"),
            attentionHeads: heads, keyValueHeads: raw.num_key_value_heads ?? heads,
            headDimension: raw.head_dim ?? (heads > 0 ? hidden / heads : 0),
            vocabularySize: try required(raw.vocab_size, "vocab_size"),
            rmsNormEpsilon: raw.rms_norm_eps ?? (family == .mixtral ? 1e-5 : 1e-6),
            ropeTheta: raw.rope_theta ?? raw.rope_parameters?.rope_theta ?? (family == .mixtral ? 1e6 : 10_000),
            maximumPositions: raw.max_position_embeddings ?? 2048, slidingWindow: window,
            attentionBias: raw.attention_bias ?? false,
            tiedEmbeddings: raw.tie_word_embeddings ?? (family == .gemma),
            activation: activation,
            expertCount: family == .mixtral ? (raw.num_local_experts ?? 8) : nil,
            expertsPerToken: family == .mixtral ? (raw.num_experts_per_tok ?? 2) : nil,
            bosTokenID: raw.bos_token_id, eosTokenIDs: raw.eos_token_id?.values ?? [])
        try validate()
    }

    /// Checks that the sizes are positive and consistent.
    /// - Throws: ``LanguageModelError/invalidConfiguration(key:reason:)`` naming the first bad key.
    public func validate() throws(LanguageModelError) {
        for (key, value) in [
            ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize), ("num_hidden_layers", layerCount),
            ("num_attention_heads", attentionHeads), ("num_key_value_heads", keyValueHeads),
            ("head_dim", headDimension), ("vocab_size", vocabularySize), ("max_position_embeddings", maximumPositions),
        ] where value <= 0 {
            throw .invalidConfiguration(key: key, reason: "must be positive, got \(value)")
        }
        guard attentionHeads % keyValueHeads == 0 else {
            throw .invalidConfiguration(
                key: "num_key_value_heads",
                reason: "num_attention_heads (\(attentionHeads)) is not a multiple of num_key_value_heads (\(keyValueHeads))")
        }
        guard headDimension % 2 == 0 else {
            throw .invalidConfiguration(key: "head_dim", reason: "rotary embedding needs an even head dimension, got \(headDimension)")
        }
        guard rmsNormEpsilon >= 0, rmsNormEpsilon.isFinite else {
            throw .invalidConfiguration(key: "rms_norm_eps", reason: "must be a non-negative number")
        }
        guard ropeTheta > 0, ropeTheta.isFinite else {
            throw .invalidConfiguration(key: "rope_theta", reason: "must be positive, got \(ropeTheta)")
        }
        if let slidingWindow, slidingWindow <= 0 {
            throw .invalidConfiguration(key: "sliding_window", reason: "must be positive or null, got \(slidingWindow)")
        }
        if family == .mixtral {
            let experts = expertCount ?? 0, chosen = expertsPerToken ?? 0
            guard experts > 0 else { throw .invalidConfiguration(key: "num_local_experts", reason: "must be positive") }
            guard chosen > 0, chosen <= experts else {
                throw .invalidConfiguration(
                    key: "num_experts_per_tok", reason: "\(chosen) is outside 1...num_local_experts (\(experts))")
            }
        }
    }

    private static func describe(_ error: DecodingError) -> LanguageModelError {
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return .invalidConfiguration(key: key.isEmpty ? "config.json" : key, reason: context.debugDescription)
        case .dataCorrupted(let context):
            return .invalidConfiguration(key: "config.json", reason: context.debugDescription)
        @unknown default:
            return .invalidConfiguration(key: "config.json", reason: "\(error)")
        }
    }
}

// MARK: - Raw JSON

/// The `config.json` fields the decoders read, named as in the file. Everything else is ignored
/// (the multimodal `mm_*` fields belong to MGPipeline).
private struct RawConfiguration: Decodable {
    var model_type: String?
    var hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads: Int?
    var head_dim, vocab_size, max_position_embeddings, num_local_experts, num_experts_per_tok: Int?
    var rms_norm_eps, rope_theta: Float?
    var rope_parameters: RopeParameters?
    var rope_scaling: RopeScaling?
    var sliding_window: Explicit<Int> = Explicit()
    var attention_bias, mlp_bias, tie_word_embeddings: Bool?
    var hidden_act, hidden_activation: String?
    var bos_token_id: Int?
    var eos_token_id: OneOrMany?
}

/// transformers 5 writes `rope_parameters: {rope_type, rope_theta}` instead of `rope_theta`.
private struct RopeParameters: Decodable {
    var rope_type: String?
    var rope_theta: Float?
}

private struct RopeScaling: Decodable {
    var type: String?
    var rope_type: String?
}

/// Distinguishes an absent key from an explicit `null`.
private struct Explicit<Value: Decodable>: Decodable {
    var isPresent = false
    var value: Value?
    init() {}
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        isPresent = true
        value = container.decodeNil() ? nil : try container.decode(Value.self)
    }
}

extension KeyedDecodingContainer {
    fileprivate func decode<Value>(_ type: Explicit<Value>.Type, forKey key: Key) throws -> Explicit<Value> {
        var result = Explicit<Value>()
        guard contains(key) else { return result }
        result.isPresent = true
        result.value = try decodeNil(forKey: key) ? nil : try decode(Value.self, forKey: key)
        return result
    }
}

/// `eos_token_id` is a number in most configs and a list in some (Llama 3).
private struct OneOrMany: Decodable {
    var values: [Int]
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let single = try? container.decode(Int.self) {
            values = [single]
        } else {
            values = try container.decode([Int].self)
        }
    }
}
