import CMGKernels
import MGTensor

// One decode step for several independent sequences at once (continuous batching). The B new
// tokens form one [B, hidden] activation, so every projection and MLP matrix is read once per step
// for all sequences; attention stays per sequence, each query row against its own KV cache at its
// own position.

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
        let c = configuration
        let batch = caches.count
        guard batch > 0, inputEmbeddings.rank == 2, inputEmbeddings.shape == [batch, c.hiddenSize] else {
            throw .invalidInput("a decode step takes [B, \(c.hiddenSize)] rows for B = \(batch) caches, got \(inputEmbeddings.shape)")
        }
        for cache in caches {
            guard cache.layerCount == c.layerCount, cache.keyValueHeads == c.keyValueHeads, cache.headDimension == c.headDimension else {
                throw .cacheMismatch(
                    reason: "cache has \(cache.layerCount) layers × \(cache.keyValueHeads) heads × \(cache.headDimension), "
                        + "model has \(c.layerCount) × \(c.keyValueHeads) × \(c.headDimension)")
            }
            try cache.checkRoom(for: 1)
        }
        // Each cache's storage is a reference kept alive by `caches` for the whole step.
        var sequences: [BatchedSequence] = []
        for index in caches.indices {
            let past = caches[index].length
            let buffers = caches[index].mutableBuffers()
            sequences.append(BatchedSequence(past: past, keys: buffers.keys, values: buffers.values, layout: caches[index].layout))
        }
        let logits = try tensorOp { () throws(TensorError) -> Tensor in
            var h = try inputEmbeddings.asFloat32()  // [B, hidden]
            if c.family == .gemma { h = try scale(h, by: c.inputScale) }
            let rotaryTable = try rotary.table(positions: sequences.map(\.past))
            for (index, layer) in layers.enumerated() {
                h = try layer.batchedStep(h, layerIndex: index, sequences: sequences, rotary: rotaryTable, configuration: c, precision: matrixPrecision)
            }
            let normed = try rmsNorm(h, weight: finalNorm, eps: c.rmsNormEpsilon, addUnitOffset: c.family == .gemma)
            return try linear(normed, weight: outputProjection, precision: matrixPrecision)  // [B, vocab]
        }
        for index in caches.indices { caches[index].advance(by: 1) }
        return logits
    }
}

/// Where one sequence of a batched step reads and writes its keys and values.
struct BatchedSequence: @unchecked Sendable {
    /// Positions already in the cache; the new token goes at this position.
    let past: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    let layout: KVCache.Layout
}

extension DecoderLayer {
    /// One layer for `x` `[B, hidden]`, row b being the next token of sequence b.
    func batchedStep(
        _ x: Tensor, layerIndex: Int, sequences: [BatchedSequence], rotary: RotaryTable, configuration c: DecoderConfiguration,
        precision: LinearPrecision
    ) throws(TensorError) -> Tensor {
        let gemma = c.family == .gemma
        var h = x
        let normed = try rmsNorm(h, weight: inputNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        try addInPlace(&h, batchedAttention(normed, layerIndex: layerIndex, sequences: sequences, rotary: rotary, configuration: c, precision: precision))
        let normed2 = try rmsNorm(h, weight: postAttentionNorm, eps: c.rmsNormEpsilon, addUnitOffset: gemma)
        switch feedForward {
        case .dense(let gate, let up, let down):
            try addInPlace(&h, denseMLP(normed2, gate: gate, up: up, down: down, activation: c.activation, precision: precision))
        case .mixture(let experts):
            try addInPlace(&h, experts(normed2, activation: c.activation, precision: precision))
        }
        return h
    }

    private func batchedAttention(
        _ x: Tensor, layerIndex: Int, sequences: [BatchedSequence], rotary: RotaryTable, configuration c: DecoderConfiguration,
        precision: LinearPrecision
    ) throws(TensorError) -> Tensor {
        let batch = x.shape[0], d = c.headDimension, hq = c.attentionHeads, hkv = c.keyValueHeads
        let w = attention
        var q: Tensor, k: Tensor  // [B, Hq·D], [B, Hkv·D]
        let v: Tensor  // [B, Hkv·D]
        if w.queryBias == nil, w.keyBias == nil, w.valueBias == nil {
            let projected = try linear(x, weights: [w.query, w.key, w.value], precision: precision)
            (q, k, v) = (projected[0], projected[1], projected[2])
        } else {
            q = try linear(x, weight: w.query, bias: w.queryBias, precision: precision)
            k = try linear(x, weight: w.key, bias: w.keyBias, precision: precision)
            v = try linear(x, weight: w.value, bias: w.valueBias, precision: precision)
        }
        // Row b of the table holds the angles of sequence b's position.
        rotary.cosines.withUnsafeBufferPointer { cosines in
            rotary.sines.withUnsafeBufferPointer { sines in
                q.withUnsafeMutableFloats { mg_decoder_rope($0.baseAddress!, batch, hq, d, cosines.baseAddress!, sines.baseAddress!) }
                k.withUnsafeMutableFloats { mg_decoder_rope($0.baseAddress!, batch, hkv, d, cosines.baseAddress!, sines.baseAddress!) }
            }
        }
        k.withUnsafeFloats { kRows in
            v.withUnsafeFloats { vRows in
                for (b, sequence) in sequences.enumerated() {
                    for head in 0..<hkv {
                        let target = sequence.layout.headOffset(layer: layerIndex, head: head) + sequence.past * d
                        let source = (b * hkv + head) * d
                        (sequence.keys + target).update(from: kRows.baseAddress! + source, count: d)
                        (sequence.values + target).update(from: vRows.baseAddress! + source, count: d)
                    }
                }
            }
        }
        var output = try Tensor.zeros([batch, hq * d])
        let group = c.queryGroupSize, window = c.slidingWindow ?? 0
        let scale = 1 / Float(d).squareRoot()
        let longest = sequences.map(\.past).max() ?? 0
        let work = group * (longest + 1) * d
        q.withUnsafeFloats { qBuffer in
            output.withUnsafeMutableFloats { oBuffer in
                let qp = qBuffer.baseAddress!, op = oBuffer.baseAddress!
                // One task per (sequence, kv head): the query row of sequence b against its own cache.
                Parallel.forEachChunk(count: batch * hkv, minimumChunk: max(1, (1 << 15) / max(1, work))) { range in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: group * (longest + 1))
                    defer { scratch.deallocate() }
                    for task in range {
                        let b = task / hkv, head = task % hkv
                        let sequence = sequences[b]
                        let offset = sequence.layout.headOffset(layer: layerIndex, head: head)
                        mg_decoder_attention(
                            qp + b * hq * d, hq * d, sequence.keys + offset, sequence.values + offset, d, group, head,
                            0, 1, sequence.past, window, scale, op + b * hq * d, scratch)
                    }
                }
            }
        }
        return try linear(output, weight: w.output, bias: w.outputBias, precision: precision)
    }
}
