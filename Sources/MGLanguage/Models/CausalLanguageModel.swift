import MGTensor

/// Which positions a forward pass returns logits for.
public enum LogitsSelection: Sendable, Hashable {
    /// Only the last input position (`[1, vocab]`): what generation needs, and the cheapest, since
    /// the vocabulary projection runs on one row.
    case lastPosition
    /// Every input position (`[T, vocab]`), e.g. for scoring or parity tests.
    case allPositions
}

/// A decoder-only language model: token ids or embedding rows in, next-token logits out.
///
/// Loaded weights are immutable, so one model value is shared by any number of concurrent
/// requests; all per-sequence state lives in the caller's ``KVCache``.
///
/// The input is split in two steps so a vision-language pipeline can splice image features into
/// the sequence: ``embed(ids:)`` returns the raw embedding rows of text tokens, the caller
/// concatenates them with projected image rows, and
/// ``forward(inputEmbeddings:cache:logits:)`` runs the decoder on the whole `[T, hidden]` matrix.
/// Any family-specific input scaling (Gemma's `× √hidden`) happens inside `forward` and applies
/// to every row, text and image alike, exactly as Hugging Face's `GemmaModel` scales
/// `inputs_embeds`.
///
/// ```swift
/// let model = try DecoderModel(directory: URL(fileURLWithPath: "/models/vicuna-7b"))
/// var cache = try model.newCache(maximumLength: 4096)
/// let logits = try model.forward(ids: tokenizer.encode("Hello"), cache: &cache)   // [1, vocab]
/// ```
public protocol CausalLanguageModel: Sendable {
    /// The hyper-parameters the model was built from.
    var configuration: DecoderConfiguration { get }

    /// The embedding rows of `ids` (`[ids.count, hidden]`, F32), unscaled.
    /// - Throws: ``LanguageModelError/invalidTokenID(_:vocabularySize:)``.
    func embed(ids: [Int]) throws(LanguageModelError) -> Tensor

    /// Runs the decoder on `T` new positions that continue the sequence held in `cache`, appends
    /// their keys and values to it, and returns F32 logits (`[1, vocab]` or `[T, vocab]`).
    /// - Parameters:
    ///   - inputEmbeddings: `[T, hidden]` rows as returned by ``embed(ids:)`` (or image features
    ///     projected to the hidden size), any float dtype.
    ///   - cache: this sequence's cache; positions `cache.length ..< cache.length + T` are written.
    ///   - logits: which positions to project to the vocabulary.
    /// - Throws: ``LanguageModelError/cacheOverflow(required:capacity:)`` when `T` more positions
    ///   do not fit (nothing is appended then), ``LanguageModelError/invalidInput(_:)`` for a
    ///   wrong shape, ``LanguageModelError/cacheMismatch(reason:)`` for another model's cache.
    func forward(inputEmbeddings: Tensor, cache: inout KVCache, logits: LogitsSelection) throws(LanguageModelError) -> Tensor

    /// An empty cache for this model with room for `maximumLength` positions.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` for a non-positive length.
    func newCache(maximumLength: Int) throws(LanguageModelError) -> KVCache
}

extension CausalLanguageModel {
    /// ``forward(inputEmbeddings:cache:logits:)`` returning the last position's logits `[1, vocab]`.
    public func forward(inputEmbeddings: Tensor, cache: inout KVCache) throws(LanguageModelError) -> Tensor {
        try forward(inputEmbeddings: inputEmbeddings, cache: &cache, logits: .lastPosition)
    }

    /// Embeds `ids` and runs ``forward(inputEmbeddings:cache:logits:)``.
    public func forward(ids: [Int], cache: inout KVCache, logits: LogitsSelection = .lastPosition) throws(LanguageModelError) -> Tensor {
        guard !ids.isEmpty else { throw .invalidInput("no token ids to run") }
        return try forward(inputEmbeddings: embed(ids: ids), cache: &cache, logits: logits)
    }

    public func newCache(maximumLength: Int) throws(LanguageModelError) -> KVCache {
        try newCache(maximumLength: maximumLength, precision: .float32)
    }

    /// An empty cache for this model with room for `maximumLength` positions, storing keys and
    /// values as `precision` whatever the model's default.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` for a non-positive length.
    public func newCache(maximumLength: Int, precision: KVCachePrecision) throws(LanguageModelError) -> KVCache {
        try KVCache(
            layerCount: configuration.layerCount, keyValueHeads: configuration.keyValueHeads,
            headDimension: configuration.headDimension, capacity: maximumLength, precision: precision)
    }
}
