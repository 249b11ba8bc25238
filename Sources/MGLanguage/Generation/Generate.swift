import Foundation
import MGTensor

/// One event of a streamed generation.
public enum GenerationEvent: Sendable, Equatable {
    /// New text and the token ids that produced it (ids whose text is not complete yet, such as
    /// the first bytes of a multi-byte character, travel with the chunk that completes it).
    case chunk(text: String, tokenIDs: [Int])
    /// The last event: counts, timings and why generation stopped.
    case info(GenerationInfo)
}

/// Counts and speeds of a finished generation.
public struct GenerationInfo: Sendable, Equatable {
    public var promptTokenCount: Int
    public var generatedTokenCount: Int
    /// Prefill time in seconds.
    public var prefillSeconds: Double
    /// Time from the end of the prefill to the last token, in seconds.
    public var generationSeconds: Double
    public var stopReason: StopReason

    /// Prompt positions per second during the prefill.
    public var promptTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokenCount) / prefillSeconds : 0 }
    /// Generated tokens per second after the prefill.
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokenCount) / generationSeconds : 0 }
}

/// The prefill and forward passes of one sequence around a ``SequenceDecoder``, which makes every
/// choice (sampling, stop tokens, stop strings, streaming detokenisation) exactly as the
/// continuous-batching server does. Shared by the synchronous and asynchronous entry points.
struct TextGenerationSession {
    private let model: any CausalLanguageModel
    private var decoder: SequenceDecoder
    private var cache: KVCache
    /// The prefill's logits, until the first token is sampled from them.
    private var prefillLogits: Tensor?
    private let prefillSeconds: Double

    init(model: any CausalLanguageModel, tokenizer: any Tokenizer, prompt: LanguageModelPrompt, parameters: GenerationParameters) throws(LanguageModelError) {
        guard prompt.length > 0 else { throw .invalidInput("the prompt is empty") }
        self.model = model
        decoder = try SequenceDecoder(
            model: model, tokenizer: tokenizer, promptTokenIDs: prompt.tokenIDs, promptLength: prompt.length, parameters: parameters)
        cache = try model.newCache(maximumLength: SequenceDecoder.cacheCapacity(
            promptLength: prompt.length, parameters: parameters, maximumPositions: model.configuration.maximumPositions))
        let start = DispatchTime.now().uptimeNanoseconds
        if let rows = prompt.embeddings {
            prefillLogits = try model.forward(inputEmbeddings: rows, cache: &cache)
        } else {
            prefillLogits = try model.forward(ids: prompt.tokenIDs, cache: &cache)
        }
        prefillSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// The next chunk (possibly with empty text), or nil once generation has ended.
    mutating func step() throws(LanguageModelError) -> GenerationEvent? {
        if let logits = prefillLogits {
            prefillLogits = nil
            return try decoder.accept(logits: logits)
        }
        guard let token = decoder.nextInput(cacheHasRoom: cache.length < cache.capacity) else { return nil }
        return try decoder.accept(logits: model.forward(ids: [token], cache: &cache))
    }

    /// Text still held back, with the ids not yet reported. Text after a stop string is dropped.
    mutating func flush() -> GenerationEvent? { decoder.flush() }

    func info(cancelled: Bool = false) -> GenerationInfo { decoder.info(prefillSeconds: prefillSeconds, cancelled: cancelled) }
}

/// Generates text and returns it whole, with the generation info (synchronous; for tests and
/// command-line use).
/// - Throws: parameter, prompt and forward-pass errors.
public func generateText(
    model: any CausalLanguageModel, tokenizer: any Tokenizer, prompt: LanguageModelPrompt,
    parameters: GenerationParameters = .greedy
) throws(LanguageModelError) -> (text: String, tokenIDs: [Int], info: GenerationInfo) {
    var session = try TextGenerationSession(model: model, tokenizer: tokenizer, prompt: prompt, parameters: parameters)
    var text = "", ids: [Int] = []
    func collect(_ event: GenerationEvent?) {
        if case .chunk(let delta, let tokenIDs)? = event {
            text += delta
            ids += tokenIDs
        }
    }
    while let event = try session.step() { collect(event) }
    collect(session.flush())
    return (text, ids, session.info())
}

/// Streams generated text as it is produced.
///
/// The prefill and every decode step run on a detached task. It checks `Task.isCancelled` before
/// each token, and the stream's `onTermination` cancels it, so dropping or cancelling the
/// consuming task stops the computation within one token. Empty chunks are not delivered; the
/// last event is always ``GenerationEvent/info(_:)`` unless an error ends the stream.
///
/// ```swift
/// for try await event in generate(model: model, tokenizer: tokenizer, prompt: .tokens(ids), parameters: .miniGeminiCLI) {
///     switch event {
///     case .chunk(let text, _): print(text, terminator: "")
///     case .info(let info): print("\n\(info.tokensPerSecond) tokens/s")
///     }
/// }
/// ```
public func generate(
    model: any CausalLanguageModel, tokenizer: any Tokenizer, prompt: LanguageModelPrompt,
    parameters: GenerationParameters = .greedy
) -> AsyncThrowingStream<GenerationEvent, any Error> {
    AsyncThrowingStream { continuation in
        let task = Task.detached {
            do {
                var session = try TextGenerationSession(model: model, tokenizer: tokenizer, prompt: prompt, parameters: parameters)
                var cancelled = false
                while true {
                    if Task.isCancelled {
                        cancelled = true
                        break
                    }
                    guard let event = try session.step() else { break }
                    if case .chunk(let text, let ids) = event, text.isEmpty, ids.isEmpty { continue }
                    continuation.yield(event)
                    // Each step is long synchronous work; let the consumer (and a cancellation)
                    // run between steps even when every cooperative thread is busy.
                    await Task.yield()
                }
                if !cancelled, let last = session.flush() { continuation.yield(last) }
                continuation.yield(.info(session.info(cancelled: cancelled)))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
    }
}
