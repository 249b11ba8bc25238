import MGTensor

// One decode step for several independent sequences at once (continuous batching). The B new
// tokens form one [B, hidden] activation, so every projection and MLP matrix is read once per step
// for all sequences; attention stays per sequence, each query row against its own KV cache at its
// own position (the same forward pass as a prefill, with B one-row sequences).

extension DecoderModel {
    /// Feeds one token to each of `caches.count` sequences in one pass over the weights.
    ///
    /// Row `b` of the result equals `forward(ids: [ids[b]], cache: &caches[b])` up to float
    /// rounding of the batched matrix products (`BatchedDecodingTests` states the tolerance).
    /// - Parameters:
    ///   - ids: one token id per sequence.
    ///   - caches: the sequences' caches, each advanced by one position.
    /// - Returns: next-token logits `[B, vocab]`.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` when the counts differ,
    ///   ``LanguageModelError/invalidTokenID(_:vocabularySize:)``, cache mismatches and a full cache.
    public func decodeStep(ids: [Int], caches: inout [KVCache]) throws(LanguageModelError) -> Tensor {
        try decodeStep(inputEmbeddings: embed(ids: ids), caches: &caches)
    }

    /// As ``decodeStep(ids:caches:)`` with the input rows given, `[B, hidden]`.
    public func decodeStep(inputEmbeddings: Tensor, caches: inout [KVCache]) throws(LanguageModelError) -> Tensor {
        let batch = caches.count
        guard batch > 0, inputEmbeddings.rank == 2, inputEmbeddings.shape == [batch, configuration.hiddenSize] else {
            throw .invalidInput("a decode step takes [B, \(configuration.hiddenSize)] rows for B = \(batch) caches, got \(inputEmbeddings.shape)")
        }
        for cache in caches { try checkFits(cache, adding: 1) }
        // Each cache's storage is a reference kept alive by `caches` for the whole step.
        let sequences = caches.indices.map { index in SequenceCache(rows: index..<index + 1, cache: &caches[index]) }
        let logits = try run(inputEmbeddings, sequences: sequences, projecting: nil)
        for index in caches.indices { caches[index].advance(by: 1) }
        return logits
    }
}
