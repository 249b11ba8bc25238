import MGTensor

/// The token choice every generation loop makes: sample from the logits with the sequence's own
/// history (for the repetition penalty), and end at a stop token.
///
/// ``TokenIterator`` and ``SequenceDecoder`` both draw through one of these, so a request samples
/// the same tokens in the same order whichever of them runs it.
struct StoppingSampler: Sendable {
    private var sampler: TokenSampler
    private var history: [Int]
    private let stopIDs: Set<Int>
    /// Tokens accepted so far (stop tokens are not counted).
    private(set) var generatedCount = 0

    /// - Parameters:
    ///   - parameters: sampling settings and the stop token ids.
    ///   - promptTokenIDs: the prompt's text token ids, the start of the history.
    ///   - endOfSequenceIDs: ids that stop the sequence when the parameters stop at end of sequence.
    init(parameters: GenerationParameters, promptTokenIDs: [Int], endOfSequenceIDs: some Sequence<Int>) {
        sampler = TokenSampler(parameters: parameters)
        history = promptTokenIDs
        var stops = parameters.stopTokenIDs
        if parameters.stopsAtEndOfSequence { stops.formUnion(endOfSequenceIDs) }
        stopIDs = stops
    }

    /// The outcome of one draw.
    enum Draw: Equatable {
        /// A token to emit and feed back.
        case token(Int)
        /// A stop token: the sequence ends without emitting it.
        case stop(Int)
    }

    /// Samples one token from `logits` and records it in the history unless it stops the sequence.
    mutating func draw(logits: Tensor) throws(LanguageModelError) -> Draw {
        let token = try sampler.sample(logits: logits, history: history)
        if stopIDs.contains(token) { return .stop(token) }
        history.append(token)
        generatedCount += 1
        return .token(token)
    }
}
