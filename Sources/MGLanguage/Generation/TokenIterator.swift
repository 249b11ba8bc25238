import Foundation
import MGTensor

/// The prompt of a generation request: token ids, or embedding rows (text with spliced image
/// features) together with the ids of its text tokens for the repetition penalty.
public struct LanguageModelPrompt: Sendable {
    /// Token ids of the prompt (for an embedding prompt: its text tokens, possibly empty).
    public var tokenIDs: [Int]
    /// `[T, hidden]` input rows; nil to embed ``tokenIDs``.
    public var embeddings: Tensor?

    /// A text prompt.
    public static func tokens(_ ids: [Int]) -> LanguageModelPrompt { LanguageModelPrompt(tokenIDs: ids, embeddings: nil) }

    /// A prompt given as embedding rows (see ``CausalLanguageModel/embed(ids:)``).
    public static func embeddings(_ rows: Tensor, tokenIDs: [Int] = []) -> LanguageModelPrompt {
        LanguageModelPrompt(tokenIDs: tokenIDs, embeddings: rows)
    }

    /// Number of positions the prompt occupies.
    public var length: Int { embeddings?.shape.first ?? tokenIDs.count }
}

/// Why generation ended.
public enum StopReason: Sendable, Equatable {
    /// A stop token id was produced (it is not part of the output).
    case stopToken(Int)
    /// The text reached a stop string (the text is cut before it).
    case stopString(String)
    /// ``GenerationParameters/maximumTokens`` were generated.
    case maximumTokens
    /// The KV cache (or the model's maximum positions) is full.
    case contextFull
    /// The consumer cancelled the task.
    case cancelled
}

/// A synchronous sequence of generated token ids, for tests, benchmarks and callers that do
/// their own detokenising.
///
/// The initialiser runs the prefill; each `next()` samples one token and (lazily, on the following
/// call) feeds it back. The sequence ends at a stop token (not returned), after
/// `maximumTokens`, or when the cache is full; ``stopReason`` says which. A failing forward pass
/// also ends it, with ``error`` set.
///
/// ```swift
/// var tokens = try TokenIterator(model: model, prompt: .tokens(ids), parameters: .greedy)
/// let generated = Array(tokens.prefix(32))
/// ```
public struct TokenIterator: Sequence, IteratorProtocol {
    public let model: any CausalLanguageModel
    public let parameters: GenerationParameters
    /// The sequence's cache (prompt and generated tokens fed so far).
    public private(set) var cache: KVCache
    /// Number of prompt positions.
    public let promptLength: Int
    /// Seconds spent on the prefill.
    public let prefillSeconds: Double
    /// Tokens returned so far.
    public var generatedCount: Int { sampler.generatedCount }
    /// Set once the sequence has ended.
    public private(set) var stopReason: StopReason?
    /// The error that ended the sequence, if any.
    public private(set) var error: LanguageModelError?

    private var sampler: StoppingSampler
    private var logits: Tensor?
    private var pendingToken: Int?

    /// Runs the prefill of `prompt`.
    /// - Parameters:
    ///   - model: the language model; its weights are shared, the cache is the iterator's own.
    ///   - prompt: token ids, or embedding rows with the ids they stand for.
    ///   - parameters: sampling and stopping.
    ///   - extraStopTokenIDs: added to the parameters' ids (e.g. the tokenizer's EOS).
    ///   - maximumLength: cache capacity; defaults to `prompt + maximumTokens`, capped at the
    ///     model's `max_position_embeddings` (but never below the prompt).
    /// - Throws: parameter validation errors and those of the prefill forward pass.
    public init(
        model: any CausalLanguageModel, prompt: LanguageModelPrompt, parameters: GenerationParameters,
        extraStopTokenIDs: Set<Int> = [], maximumLength: Int? = nil
    ) throws(LanguageModelError) {
        try parameters.validate()
        let configuration = model.configuration
        guard prompt.length > 0 else { throw .invalidInput("the prompt is empty") }
        self.model = model
        self.parameters = parameters
        promptLength = prompt.length
        let capacity = maximumLength
            ?? Swift.max(prompt.length + 1, Swift.min(configuration.maximumPositions, prompt.length + parameters.maximumTokens))
        cache = try model.newCache(maximumLength: capacity)
        var stopping = parameters
        stopping.stopTokenIDs.formUnion(extraStopTokenIDs)
        sampler = StoppingSampler(parameters: stopping, promptTokenIDs: prompt.tokenIDs, endOfSequenceIDs: configuration.eosTokenIDs)
        let start = DispatchTime.now().uptimeNanoseconds
        if let rows = prompt.embeddings {
            logits = try model.forward(inputEmbeddings: rows, cache: &cache)
        } else {
            logits = try model.forward(ids: prompt.tokenIDs, cache: &cache)
        }
        prefillSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The next generated token id, or nil when the sequence has ended.
    public mutating func next() -> Int? {
        do {
            return try nextToken()
        } catch {
            self.error = error
            stopReason = stopReason ?? .contextFull
            return nil
        }
    }

    /// As ``next()``, throwing instead of recording the error.
    public mutating func nextToken() throws(LanguageModelError) -> Int? {
        if stopReason != nil { return nil }
        if generatedCount >= parameters.maximumTokens {
            stopReason = .maximumTokens
            return nil
        }
        if let token = pendingToken {
            pendingToken = nil
            if cache.length >= cache.capacity {
                stopReason = .contextFull
                return nil
            }
            logits = try model.forward(ids: [token], cache: &cache)
        }
        guard let logits else { return nil }
        switch try sampler.draw(logits: logits) {
        case .stop(let token):
            stopReason = .stopToken(token)
            return nil
        case .token(let token):
            pendingToken = token
            return token
        }
    }

    /// Ends the sequence early (e.g. a stop string was found in the text).
    public mutating func stop(_ reason: StopReason) {
        if stopReason == nil { stopReason = reason }
    }
}
