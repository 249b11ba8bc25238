import Foundation
import MGTensor

/// The per-sequence half of streaming generation with the forward passes left to the caller: what
/// a continuous-batching scheduler keeps for each request while one ``DecoderModel/decodeStep(ids:caches:)``
/// serves them all.
///
/// It makes exactly the choices of ``generate(model:tokenizer:prompt:parameters:)``: the same
/// sampler draws in the same order, the same stop tokens, stop strings and streaming
/// detokenisation, so a request answers the same with or without batching (up to the float
/// rounding of batched products).
///
/// ```swift
/// var sequence = try SequenceDecoder(model: model, tokenizer: tokenizer, promptTokenIDs: ids, parameters: .greedy)
/// var event = try sequence.accept(logits: prefillLogits)          // first token
/// while let token = sequence.nextInput(cacheHasRoom: cache.length < cache.capacity) {
///     event = try sequence.accept(logits: model.forward(ids: [token], cache: &cache))
/// }
/// ```
public struct SequenceDecoder: Sendable {
    public let parameters: GenerationParameters
    /// Prompt positions (for the info).
    public let promptLength: Int
    /// Tokens generated so far.
    public var generatedCount: Int { sampler.generatedCount }
    /// Set once the sequence has ended.
    public private(set) var stopReason: StopReason?

    private var sampler: StoppingSampler
    private var detokenizer: StreamingDetokenizer
    private var matcher: StopStringMatcher
    private var pendingIDs: [Int] = []
    private var pendingToken: Int?
    private var decodeStart: UInt64?

    /// - Parameters:
    ///   - model: the decoder whose logits are sampled.
    ///   - tokenizer: decodes the sampled ids into text.
    ///   - parameters: sampling, stopping and length settings.
    ///   - promptTokenIDs: the prompt's text token ids (for the repetition penalty).
    ///   - promptLength: the prompt's positions (text and spliced rows).
    /// - Throws: parameter validation errors.
    public init(
        model: any CausalLanguageModel, tokenizer: any Tokenizer, promptTokenIDs: [Int], promptLength: Int, parameters: GenerationParameters
    ) throws(LanguageModelError) {
        try parameters.validate()
        self.parameters = parameters
        self.promptLength = promptLength
        let endOfSequence = model.configuration.eosTokenIDs + (tokenizer.eosTokenID.map { [$0] } ?? [])
        sampler = StoppingSampler(parameters: parameters, promptTokenIDs: promptTokenIDs, endOfSequenceIDs: endOfSequence)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
        matcher = StopStringMatcher(stopStrings: parameters.stopStrings)
    }

    /// The cache capacity a sequence needs: as ``TokenIterator`` sizes its own.
    public static func cacheCapacity(promptLength: Int, parameters: GenerationParameters, maximumPositions: Int) -> Int {
        Swift.max(promptLength + 1, Swift.min(maximumPositions, promptLength + parameters.maximumTokens))
    }

    /// The token to feed at the next decode step, or nil when the sequence has ended (then
    /// ``stopReason`` says why: the token limit, or a full cache).
    public mutating func nextInput(cacheHasRoom: Bool) -> Int? {
        guard stopReason == nil, let token = pendingToken else { return nil }
        if generatedCount >= parameters.maximumTokens {
            stopReason = .maximumTokens
            return nil
        }
        guard cacheHasRoom else {
            stopReason = .contextFull
            return nil
        }
        return token
    }

    /// Samples the next token from `logits` (`[vocab]` or `[1, vocab]`) and returns the text it
    /// completes (possibly empty), or nil when the sequence ends here.
    public mutating func accept(logits: Tensor) throws(LanguageModelError) -> GenerationEvent? {
        if decodeStart == nil { decodeStart = DispatchTime.now().uptimeNanoseconds }
        guard stopReason == nil else { return nil }
        if generatedCount >= parameters.maximumTokens {
            stopReason = .maximumTokens
            return nil
        }
        pendingToken = nil
        let token: Int
        switch try sampler.draw(logits: logits) {
        case .stop(let stop):
            stopReason = .stopToken(stop)
            return nil
        case .token(let drawn):
            token = drawn
        }
        pendingToken = token
        pendingIDs.append(token)
        let (text, stop) = matcher.feed(detokenizer.append(token))
        if let stop { stopReason = .stopString(stop) }
        if text.isEmpty, stop == nil { return .chunk(text: "", tokenIDs: []) }
        defer { pendingIDs.removeAll() }
        return .chunk(text: text, tokenIDs: pendingIDs)
    }

    /// Text still held back once the sequence has ended (nothing after a stop string).
    public mutating func flush() -> GenerationEvent? {
        var text = ""
        if case .stopString? = stopReason {
            text = ""
        } else {
            let (tail, stop) = matcher.feed(detokenizer.finish())
            text = stop == nil ? tail + matcher.finish() : tail
        }
        guard !text.isEmpty || !pendingIDs.isEmpty else { return nil }
        defer { pendingIDs.removeAll() }
        return .chunk(text: text, tokenIDs: pendingIDs)
    }

    /// Counts and timings for the finished sequence.
    public func info(prefillSeconds: Double, cancelled: Bool = false) -> GenerationInfo {
        let elapsed = decodeStart.map { Double(DispatchTime.now().uptimeNanoseconds - $0) / 1e9 } ?? 0
        return GenerationInfo(
            promptTokenCount: promptLength, generatedTokenCount: generatedCount, prefillSeconds: prefillSeconds,
            generationSeconds: Swift.max(0, elapsed), stopReason: cancelled ? .cancelled : (stopReason ?? .maximumTokens))
    }
}
