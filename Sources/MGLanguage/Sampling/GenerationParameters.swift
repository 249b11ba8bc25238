/// How tokens are chosen and when generation stops. A plain `Sendable` value: build one per
/// request (or share a preset).
///
/// The logit pipeline follows Hugging Face `generate`: repetition penalty, then (when sampling)
/// temperature, top-k, top-p, and a draw from the resulting distribution. `temperature == 0`
/// means greedy decoding (argmax after the repetition penalty), as Mini-Gemini's CLI does
/// (`do_sample = temperature > 0`).
///
/// ```swift
/// var parameters = GenerationParameters.miniGeminiCLI      // temperature 0.2, top-k 50
/// parameters.seed = 42
/// parameters.stopStrings = ["</s>"]
/// ```
public struct GenerationParameters: Sendable, Equatable {
    /// Most tokens to generate.
    public var maximumTokens: Int
    /// Softmax temperature; 0 selects greedy decoding.
    public var temperature: Float
    /// Keep only the `topK` most likely tokens (ties with the k-th are kept, as HF); 0 disables it.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP`; 1 disables it.
    public var topP: Float
    /// HF `repetition_penalty`: the logit of every token already in the sequence (prompt included)
    /// is divided by it when positive and multiplied by it when negative; 1 disables it.
    public var repetitionPenalty: Float
    /// Seed of the sampler's ``SeededRandomGenerator``. The same seed, model and prompt give the
    /// same tokens (the stream differs from PyTorch's, so sampled text is not comparable).
    public var seed: UInt64
    /// Token ids that end generation (not emitted). The model's and tokenizer's end-of-sequence ids
    /// are added when ``stopsAtEndOfSequence`` is true.
    public var stopTokenIDs: Set<Int>
    /// Stop as soon as the generated text contains one of these; the text is cut before it.
    public var stopStrings: [String]
    /// Also stop at the configuration's `eos_token_id`s and the tokenizer's EOS.
    public var stopsAtEndOfSequence: Bool

    public init(
        maximumTokens: Int = 512, temperature: Float = 0, topK: Int = 0, topP: Float = 1,
        repetitionPenalty: Float = 1, seed: UInt64 = 0, stopTokenIDs: Set<Int> = [], stopStrings: [String] = [],
        stopsAtEndOfSequence: Bool = true
    ) {
        self.maximumTokens = maximumTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.stopTokenIDs = stopTokenIDs
        self.stopStrings = stopStrings
        self.stopsAtEndOfSequence = stopsAtEndOfSequence
    }

    /// Mini-Gemini's CLI defaults: temperature 0.2, HF's default top-k 50, top-p 1, 512 tokens.
    public static let miniGeminiCLI = GenerationParameters(maximumTokens: 512, temperature: 0.2, topK: 50)

    /// Greedy decoding, as the official evaluation scripts.
    public static let greedy = GenerationParameters()

    /// Whether tokens are drawn at random (otherwise argmax).
    public var isSampling: Bool { temperature > 0 }

    /// - Throws: ``LanguageModelError/invalidParameter(name:reason:)`` for values outside their range.
    public func validate() throws(LanguageModelError) {
        guard maximumTokens >= 0 else { throw .invalidParameter(name: "maximumTokens", reason: "must be ≥ 0, got \(maximumTokens)") }
        guard temperature >= 0, temperature.isFinite else {
            throw .invalidParameter(name: "temperature", reason: "must be finite and ≥ 0, got \(temperature)")
        }
        guard topK >= 0 else { throw .invalidParameter(name: "topK", reason: "must be ≥ 0, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalidParameter(name: "topP", reason: "must be in (0, 1], got \(topP)") }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw .invalidParameter(name: "repetitionPenalty", reason: "must be finite and > 0, got \(repetitionPenalty)")
        }
        for string in stopStrings where string.isEmpty {
            throw .invalidParameter(name: "stopStrings", reason: "stop strings must not be empty")
        }
    }
}
