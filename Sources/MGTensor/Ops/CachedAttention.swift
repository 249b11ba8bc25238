import CMGKernels

// Causal attention of a decoder's new rows against a key/value cache, as transformers' eager
// LlamaAttention computes it (scores scaled by 1/√d, softmax in float32, probabilities times
// values), with grouped-query heads and an optional sliding window. The cache is read in place, in
// F32 or IEEE half (widened in registers as it is read; see KVCachePrecision).

/// One sequence's part of a ``cachedAttention(query:key:value:sequences:heads:keyValueHeads:slidingWindow:)``
/// call: which rows of the projections are its new positions, and where its cache of the current
/// layer lives.
///
/// The cache holds, for each key/value head `h`, a `[capacity, d]` block of keys at
/// `keys + h · headStride` elements and one of values at `values + h · headStride`, in F32 or
/// IEEE half (``precision``). The caller owns that memory and keeps it alive and unshared for the
/// duration of the call.
public struct AttentionCacheSequence: @unchecked Sendable {
    /// Rows of the query/key/value projections that belong to this sequence, in position order.
    public let rows: Range<Int>
    /// Positions already in the cache; the rows take positions `past ..< past + rows.count`.
    public let past: Int
    /// This layer's key blocks (elements of ``precision``).
    public let keyStorage: UnsafeMutableRawPointer
    /// This layer's value blocks (elements of ``precision``).
    public let valueStorage: UnsafeMutableRawPointer
    /// The element type of the blocks.
    public let precision: KVCachePrecision
    /// Elements from one key/value head's block to the next.
    public let headStride: Int
    /// Positions each block can hold.
    public let capacity: Int

    /// An F32 cache.
    public init(
        rows: Range<Int>, past: Int, keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
        headStride: Int, capacity: Int
    ) {
        self.init(
            rows: rows, past: past, keyStorage: UnsafeMutableRawPointer(keys), valueStorage: UnsafeMutableRawPointer(values),
            precision: .float32, headStride: headStride, capacity: capacity)
    }

    /// A cache of `precision` elements at `keyStorage` and `valueStorage`.
    public init(
        rows: Range<Int>, past: Int, keyStorage: UnsafeMutableRawPointer, valueStorage: UnsafeMutableRawPointer,
        precision: KVCachePrecision, headStride: Int, capacity: Int
    ) {
        self.rows = rows
        self.past = past
        self.keyStorage = keyStorage
        self.valueStorage = valueStorage
        self.precision = precision
        self.headStride = headStride
        self.capacity = capacity
    }
}

/// Writes the new keys and values of each sequence into its cache, then lets every new query row
/// attend causally over its sequence's cached positions (its own included).
///
/// One call serves a prefill (one sequence, `T` rows) and a batched decode step (`B` sequences of
/// one row each, at different positions). An F16 cache (``KVCachePrecision/float16``) receives the
/// new keys and values rounded to half, and the attention reads every cached position, the new ones
/// included, as those halves.
/// - Parameters:
///   - query: `[R, heads · d]` F32, rotary embedding already applied.
///   - key: `[R, keyValueHeads · d]` F32, rotary embedding already applied.
///   - value: `[R, keyValueHeads · d]` F32.
///   - sequences: disjoint row ranges covering the rows they name.
///   - heads: query heads; a multiple of `keyValueHeads` (each key/value head serves `heads / keyValueHeads`).
///   - keyValueHeads: key/value heads of the projections and of the cache.
///   - slidingWindow: when set, query position `p` sees keys `p − window + 1 … p` only (Mistral).
/// - Returns: `[R, heads · d]` F32, the attention output before the output projection.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` or
///   ``TensorError/invalidArgument(operation:reason:)`` when shapes, head counts, rows or cache
///   capacities do not fit.
public func cachedAttention(
    query: Tensor, key: Tensor, value: Tensor, sequences: [AttentionCacheSequence], heads: Int, keyValueHeads: Int,
    slidingWindow: Int? = nil
) throws(TensorError) -> Tensor {
    let operation = "cachedAttention"
    guard heads > 0, keyValueHeads > 0, heads % keyValueHeads == 0, query.rank == 2, query.shape[1] % heads == 0 else {
        throw .invalidArgument(operation: operation, reason: "\(heads) query heads and \(keyValueHeads) key/value heads do not fit query \(query.shape)")
    }
    let rowCount = query.shape[0], d = query.shape[1] / heads
    guard d > 0, key.shape == [rowCount, keyValueHeads * d], value.shape == key.shape else {
        throw .shapeMismatch(operation: operation, key.shape, [rowCount, keyValueHeads * d])
    }
    guard query.dtype == .f32, key.dtype == .f32, value.dtype == .f32 else {
        throw .unsupportedDType(operation: operation, [query, key, value].first { $0.dtype != .f32 }?.dtype ?? .f32)
    }
    for sequence in sequences {
        guard sequence.rows.lowerBound >= 0, sequence.rows.upperBound <= rowCount, sequence.past >= 0,
              sequence.past <= sequence.capacity - sequence.rows.count, sequence.headStride >= sequence.capacity * d
        else {
            throw .invalidArgument(
                operation: operation,
                reason: "rows \(sequence.rows) after \(sequence.past) cached positions do not fit \(rowCount) rows and a cache of \(sequence.capacity)")
        }
    }
    // Overlapping sequences would attend a row twice, and leave some other row of the output unwritten.
    let ordered = sequences.map(\.rows).filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
    for (earlier, later) in zip(ordered, ordered.dropFirst()) where later.lowerBound < earlier.upperBound {
        throw .invalidArgument(operation: operation, reason: "sequences name rows \(earlier) and \(later), which overlap")
    }
    if let window = slidingWindow, window <= 0 {
        throw .invalidArgument(operation: operation, reason: "sliding window \(window) must be positive")
    }
    let rowsInAll = sequences.reduce(0) { $0 + $1.rows.count }
    // Disjoint sequences naming every row leave no output element unwritten.
    var output = rowsInAll == rowCount ? Tensor(uninitializedShape: [rowCount, heads * d]) : try Tensor.zeros([rowCount, heads * d])
    let group = heads / keyValueHeads, window = slidingWindow ?? 0
    let scale = 1 / Float(d).squareRoot()
    let longest = sequences.map { $0.past + $0.rows.count }.max() ?? 0
    // Tasks are (sequence, key/value head, slice of its query heads, row) in that order, so a chunk
    // walks consecutive rows. A head's query heads are one slice unless there are fewer tasks than
    // threads (with an F32 cache, a decode step of one sequence with fewer key/value heads than
    // threads, e.g. Gemma's single one; an F16 cache splits positions instead, below): then they are
    // cut into up to one slice per thread, which read the same keys and values. Each query head's
    // arithmetic is independent of the others, so slicing changes no bit.
    if sequences.count == 1, rowsInAll == 1, keyValueHeads < Parallel.threadCount, sequences[0].precision == .float16 {
        appendToCache(key: key, value: value, sequences: sequences, keyValueHeads: keyValueHeads, headDim: d)
        attendSplittingPositions(
            query: query, sequence: sequences[0], heads: heads, keyValueHeads: keyValueHeads, headDim: d, window: window,
            scale: scale, output: &output)
        return output
    }
    let slices = keyValueHeads * rowsInAll < Parallel.threadCount ? min(group, Parallel.threadCount) : 1
    // In a decode step (one row per sequence, one task per key/value head) each task stores its
    // head's new key and value row itself, just before it reads them back, so the stores run on
    // both cores inside the region instead of before it. A prefill row reads rows other tasks
    // store, and query slices share a head: then every row is stored first.
    let storeInTasks = rowsInAll == sequences.count && slices == 1
    if !storeInTasks { appendToCache(key: key, value: value, sequences: sequences, keyValueHeads: keyValueHeads, headDim: d) }
    let taskStarts = sequences.reduce(into: [0]) { $0.append($0.last! + keyValueHeads * slices * $1.rows.count) }
    let work = (group / slices) * longest * d
    query.withUnsafeFloats { qBuffer in
        key.withUnsafeFloats { kRows in
        value.withUnsafeFloats { vRows in
        output.withUnsafeMutableFloats { oBuffer in
            let pointers = UncheckedSendable((qBuffer.baseAddress!, oBuffer.baseAddress!, kRows.baseAddress!, vRows.baseAddress!))
            let minimum = max(1, (1 << 15) / max(1, work))
            // In decode (one row per sequence) a task is one query-head slice of one row, computed
            // alone: chunks that shrink towards the end change no bit and leave the core that
            // finishes first a short wait. They start at half of the tasks per thread, so each
            // core first streams a long run of adjacent heads' keys and values (Llama-7B at 512
            // positions, fast memory state: 43.6–46.6 GB/s, where chunks starting at a quarter
            // per thread reached 39.7–40.3 and an eighth 42.1). Prefill keeps equal chunks of
            // consecutive rows (fraction 0).
            let fraction = rowsInAll == sequences.count ? 1 : 0
            Parallel.forEachTaperedChunk(count: taskStarts.last!, minimumChunk: minimum, fraction: fraction) { range in
                let (q, o, newKeys, newValues) = pointers.value
                FloatScratch.withBuffer(count: group * max(1, longest)) { scratch in
                    var task = range.lowerBound
                    var index = 0
                    while task < range.upperBound {
                        while taskStarts[index + 1] <= task { index += 1 }
                        let sequence = sequences[index], length = sequence.rows.count
                        let local = task - taskStarts[index]
                        let head = local / (slices * length), slice = (local / length) % slices, t = local % length
                        let end = min(length, t + (range.upperBound - task))
                        let row = sequence.rows.lowerBound, offset = head * sequence.headStride
                        if storeInTasks {
                            store(keys: newKeys, values: newValues, rows: t..<end, of: sequence, head: head, keyValueHeads: keyValueHeads, headDim: d)
                        }
                        // The slice's query heads as a group of their own (kv_head 0 after moving q and out).
                        let first = slice * group / slices, members = (slice + 1) * group / slices - first
                        let column = row * heads * d + (head * group + first) * d
                        switch sequence.precision {
                        case .float32:
                            let keys = sequence.keyStorage.assumingMemoryBound(to: Float.self)
                            let values = sequence.valueStorage.assumingMemoryBound(to: Float.self)
                            mg_decoder_attention(
                                q + column, heads * d, keys + offset, values + offset, d, members, 0,
                                t, end, sequence.past, window, scale, o + column, scratch)
                        case .float16:
                            let keys = sequence.keyStorage.assumingMemoryBound(to: UInt16.self)
                            let values = sequence.valueStorage.assumingMemoryBound(to: UInt16.self)
                            mg_decoder_attention_f16(
                                q + column, heads * d, keys + offset, values + offset, d, members, 0,
                                t, end, sequence.past, window, scale, o + column, scratch)
                        }
                        task += end - t
                    }
                }
            }
        }
        }
        }
    }
    return output
}

/// One decode row of one sequence over an F16 cache with fewer key/value heads than threads (Gemma's
/// single one): each head's cached positions are cut into one part per thread, every part computes
/// all the head's query heads over its positions (mg_decoder_attention_f16_part), and the parts'
/// softmaxes are merged. Each thread reads its own share of the cache once, where slicing the query
/// heads made every thread read all of it. The merge changes the summation order against the
/// one-part kernel (a rounding-level difference).
private func attendSplittingPositions(
    query: Tensor, sequence: AttentionCacheSequence, heads: Int, keyValueHeads: Int, headDim d: Int, window: Int,
    scale: Float, output: inout Tensor
) {
    let group = heads / keyValueHeads, last = sequence.past
    let first = window > 0 && last + 1 > window ? last + 1 - window : 0
    let positions = last - first + 1
    // Parts of at least 64 positions: below that the hand-off costs more than the read it shares.
    let parts = max(1, min(Parallel.threadCount, Int(MG_DECODER_MAX_PARTS), positions / 64))
    let partFloats = group * (d + 2), scratchFloats = group * ((positions + parts - 1) / parts)
    let tasks = keyValueHeads * parts
    let row = sequence.rows.lowerBound
    // The parts' sums and the threads' scores live in kept scratch buffers (FloatScratch), so a
    // decode step allocates nothing here.
    FloatScratch.withBuffer(count: tasks * partFloats) { partials in
        query.withUnsafeFloats { qBuffer in
            let pointers = UncheckedSendable((qBuffer.baseAddress!, partials))
            Parallel.forEachChunk(count: tasks, minimumChunk: 1) { range in
                let (q, partials) = pointers.value
                FloatScratch.withBuffer(count: scratchFloats) { scratch in
                    let keys = sequence.keyStorage.assumingMemoryBound(to: UInt16.self)
                    let values = sequence.valueStorage.assumingMemoryBound(to: UInt16.self)
                    for task in range {
                        let head = task / parts, part = task % parts
                        let begin = first + positions * part / parts, end = first + positions * (part + 1) / parts
                        let offset = head * sequence.headStride
                        mg_decoder_attention_f16_part(
                            q + row * heads * d + head * group * d, keys + offset, values + offset, d, group, begin, end, scale,
                            partials + task * partFloats, scratch)
                    }
                }
            }
        }
        output.withUnsafeMutableFloats { oBuffer in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: parts) { headParts in
                for head in 0..<keyValueHeads {
                    for part in 0..<parts { headParts[part] = UnsafePointer(partials + (head * parts + part) * partFloats) }
                    mg_decoder_attention_merge(
                        headParts.baseAddress!, parts, group, d, oBuffer.baseAddress! + row * heads * d + head * group * d)
                }
            }
        }
    }
}

/// Copies row `t` of head `h` of each sequence's new keys and values to cache position `past + t`
/// (rounded to half for an F16 cache).
private func appendToCache(key: Tensor, value: Tensor, sequences: [AttentionCacheSequence], keyValueHeads: Int, headDim d: Int) {
    key.withUnsafeFloats { kRows in
        value.withUnsafeFloats { vRows in
            for sequence in sequences {
                for head in 0..<keyValueHeads {
                    store(
                        keys: kRows.baseAddress!, values: vRows.baseAddress!, rows: 0..<sequence.rows.count, of: sequence, head: head,
                        keyValueHeads: keyValueHeads, headDim: d)
                }
            }
        }
    }
}

/// Copies rows `rows` (indices within the sequence) of head `head` of the new keys and values
/// (`[R, keyValueHeads · d]` F32) to the sequence's cache positions `past + t`.
private func store(
    keys kRows: UnsafePointer<Float>, values vRows: UnsafePointer<Float>, rows: Range<Int>, of sequence: AttentionCacheSequence,
    head: Int, keyValueHeads: Int, headDim d: Int
) {
    let base = head * sequence.headStride + sequence.past * d
    for t in rows {
        let source = ((sequence.rows.lowerBound + t) * keyValueHeads + head) * d, target = base + t * d
        switch sequence.precision {
        case .float32:
            let keys = sequence.keyStorage.assumingMemoryBound(to: Float.self)
            let values = sequence.valueStorage.assumingMemoryBound(to: Float.self)
            (keys + target).update(from: kRows + source, count: d)
            (values + target).update(from: vRows + source, count: d)
        case .float16:
            let keys = sequence.keyStorage.assumingMemoryBound(to: UInt16.self)
            let values = sequence.valueStorage.assumingMemoryBound(to: UInt16.self)
            mg_kv_store_f16(kRows + source, keys + target, d)
            mg_kv_store_f16(vRows + source, values + target, d)
        }
    }
}

/// `output[rows[i]] += weights[i] · values[i]` for each row of `values` `[count, width]` — how a
/// mixture of experts adds each expert's outputs to the tokens routed to it.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the widths or counts differ,
///   ``TensorError/indexOutOfRange(operation:index:count:)`` for a row outside `output`.
public func scatterAdd(_ values: Tensor, into output: inout Tensor, rows: [Int], weights: [Float]) throws(TensorError) {
    let operation = "scatterAdd"
    guard values.rank == 2, output.rank == 2, values.shape[1] == output.shape[1],
          rows.count == values.shape[0], weights.count == rows.count
    else { throw .shapeMismatch(operation: operation, values.shape, output.shape) }
    guard output.dtype == .f32 else { throw .unsupportedDType(operation: operation, output.dtype) }
    if let bad = rows.first(where: { $0 < 0 || $0 >= output.shape[0] }) {
        throw .indexOutOfRange(operation: operation, index: bad, count: output.shape[0])
    }
    let source = try values.asFloat32()
    let wideRows = rows.map { Int64($0) }
    source.withUnsafeFloats { y in
        output.withUnsafeMutableFloats { out in
            mg_decoder_scatter_add(out.baseAddress!, y.baseAddress!, wideRows, weights, rows.count, values.shape[1])
        }
    }
}
