import MGTensor

/// One sequence of a forward pass: which input rows are its new positions and where its
/// ``KVCache`` keeps keys and values. A prefill has one; a batched decode step one per sequence.
///
/// The pointers are the cache's storage, made unique by ``KVCache`` before the pass, and stay
/// valid while the caller holds the caches.
struct SequenceCache: @unchecked Sendable {
    let rows: Range<Int>
    /// Positions already cached; the rows take `past ..< past + rows.count`.
    let past: Int
    let keys: UnsafeMutableRawPointer
    let values: UnsafeMutableRawPointer
    let precision: KVCachePrecision
    let layout: KVCache.Layout

    /// Takes `cache`'s buffers for writing `rows`.
    init(rows: Range<Int>, cache: inout KVCache) {
        self.rows = rows
        self.past = cache.length
        (keys, values) = cache.mutableBuffers()
        self.precision = cache.precision
        self.layout = cache.layout
    }

    /// The positions of the rows, in order.
    var positions: Range<Int> { past..<past + rows.count }

    /// Layer `layer`'s part of the cache, as ``cachedAttention(query:key:value:sequences:heads:keyValueHeads:slidingWindow:)`` takes it.
    func attention(layer: Int) -> AttentionCacheSequence {
        let offset = layout.headOffset(layer: layer, head: 0) * precision.elementBytes
        return AttentionCacheSequence(
            rows: rows, past: past, keyStorage: keys + offset, valueStorage: values + offset, precision: precision,
            headStride: layout.capacity * layout.headDimension, capacity: layout.capacity)
    }
}
