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
            return try batchedLinear(normed, weight: outputProjection, precision: matrixPrecision)  // [B, vocab]
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
            try addInPlace(&h, batchedDenseMLP(normed2, gate: gate, up: up, down: down, activation: c.activation, precision: precision))
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
        q = try batchedLinear(x, weight: w.query, bias: w.queryBias, precision: precision)
        k = try batchedLinear(x, weight: w.key, bias: w.keyBias, precision: precision)
        v = try batchedLinear(x, weight: w.value, bias: w.valueBias, precision: precision)
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
        return try batchedLinear(output, weight: w.output, bias: w.outputBias, precision: precision)
    }
}

/// `linear(x, weight:)` for the few rows of a decode step. With 16-bit weights each weight is
/// widened once for all rows (`mg_gemv_bf16_batch`), instead of the multi-row path's conversion of
/// the matrix to F32 blocks for a GEMM, which costs more than the product itself at B ≤ 16; each
/// row's sum runs in the same order as the single-row kernel's.
func batchedLinear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, precision: LinearPrecision) throws(TensorError) -> Tensor {
    let rows = x.rank == 2 ? x.shape[0] : 0
    guard rows > 1, rows <= 64, weight.rank == 2, weight.dtype == .bf16 || weight.dtype == .f16, x.shape[1] == weight.shape[1],
          bias == nil || bias?.shape == [weight.shape[0]]
    else {
        return try linear(x, weight: weight, bias: bias, precision: precision)
    }
    let input = try x.asFloat32()
    var biasValues = try Tensor.zeros([0])
    if let bias { biasValues = try bias.asFloat32() }
    let hasBias = bias != nil
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    var result = try Tensor.zeros([rows, outFeatures])
    let isBF16 = weight.dtype == .bf16
    weight.withUnsafeBytes { weightBytes in
        input.withUnsafeFloats { xBuffer in
            biasValues.withUnsafeFloats { biasBuffer in
                result.withUnsafeMutableFloats { yBuffer in
                    let pointers = UncheckedSendablePointers(
                        w: weightBytes.baseAddress!.assumingMemoryBound(to: UInt16.self), x: xBuffer.baseAddress!,
                        bias: hasBias ? biasBuffer.baseAddress : nil, y: yBuffer.baseAddress!)
                    Parallel.forEachChunk(count: outFeatures, minimumChunk: max(4, (1 << 16) / max(1, inFeatures))) { range in
                        let p = pointers
                        let w = p.w + range.lowerBound * inFeatures
                        let bias = p.bias.map { $0 + range.lowerBound }
                        if isBF16 {
                            mg_gemv_bf16_batch(w, p.x, bias, p.y + range.lowerBound, outFeatures, range.count, inFeatures, rows)
                        } else {
                            mg_gemv_f16_batch(w, p.x, bias, p.y + range.lowerBound, outFeatures, range.count, inFeatures, rows)
                        }
                    }
                }
            }
        }
    }
    return result
}

/// Raw pointers handed to the worker threads of one product; the buffers outlive the call.
private struct UncheckedSendablePointers: @unchecked Sendable {
    let w: UnsafePointer<UInt16>
    let x: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?
    let y: UnsafeMutablePointer<Float>
}

/// `down(act(gate(x)) ⊙ up(x))` for the rows of a decode step (see ``batchedLinear``).
func batchedDenseMLP(
    _ x: Tensor, gate: Tensor, up: Tensor, down: Tensor, activation: DecoderActivation, precision: LinearPrecision
) throws(TensorError) -> Tensor {
    let g = try batchedLinear(x, weight: gate, precision: precision)
    let u = try batchedLinear(x, weight: up, precision: precision)
    let hidden: Tensor
    switch activation {
    case .silu: hidden = try siluGated(g, u)
    case .gelu(let approximation): hidden = try geluGated(g, u, approximation: approximation)
    }
    return try batchedLinear(hidden, weight: down, precision: precision)
}
