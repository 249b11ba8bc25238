import MGTensor

/// The keys and values of every layer for one sequence, preallocated to a fixed capacity.
///
/// A cache belongs to one request: create it with ``CausalLanguageModel/newCache(maximumLength:)``,
/// pass it `inout` to every forward pass of that sequence, and drop it afterwards. The model itself
/// stays immutable and can serve many caches at once.
///
/// Storage is F32 or IEEE half (``precision``, see ``/MGTensor/KVCachePrecision``), laid out per
/// layer and key/value head as `[capacity, headDim]` rows, so the attention kernel reads positions
/// `0..<length` of a head in place. Memory is reserved up front
/// (`2 · layers · kvHeads · capacity · headDim` elements of 4 or 2 bytes) but pages are only touched
/// as positions are written. `KVCache` is a value type with copy-on-write storage: copying a cache (e.g. to branch a
/// conversation after a shared prompt) costs nothing until one copy is extended.
///
/// ```swift
/// var cache = try model.newCache(maximumLength: 2048)
/// var logits = try model.forward(ids: prompt, cache: &cache)      // prefill
/// logits = try model.forward(ids: [next], cache: &cache)          // one decode step
/// ```
public struct KVCache: Sendable {
    /// Number of decoder layers.
    public let layerCount: Int
    /// Key/value heads per layer.
    public let keyValueHeads: Int
    /// Width of one head.
    public let headDimension: Int
    /// The most positions the cache can hold (its preallocated length).
    public let capacity: Int
    /// Positions stored so far; the next token sits at position `length`.
    public private(set) var length = 0
    /// How keys and values are stored: F32, or IEEE half rounded once when written.
    public let precision: KVCachePrecision

    private var storage: KVCacheStorage

    /// An empty cache.
    /// - Parameters:
    ///   - layerCount: decoder layers.
    ///   - keyValueHeads: key/value heads per layer.
    ///   - headDimension: width of one head.
    ///   - capacity: the most positions the cache holds.
    ///   - precision: the element type of the stored keys and values (F32 by default).
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` for a non-positive size or one whose
    ///   element count overflows.
    public init(
        layerCount: Int, keyValueHeads: Int, headDimension: Int, capacity: Int, precision: KVCachePrecision = .float32
    ) throws(LanguageModelError) {
        guard layerCount > 0, keyValueHeads > 0, headDimension > 0, capacity > 0 else {
            throw .invalidInput("KV cache sizes must be positive (layers \(layerCount), kv heads \(keyValueHeads), head dim \(headDimension), capacity \(capacity))")
        }
        let (perLayer, overflow1) = keyValueHeads.multipliedReportingOverflow(by: capacity * headDimension)
        let (total, overflow2) = perLayer.multipliedReportingOverflow(by: layerCount)
        guard !overflow1, !overflow2, capacity <= Int.max / headDimension, total <= Int.max / precision.elementBytes else {
            throw .invalidInput("KV cache of \(capacity) positions is too large")
        }
        self.layerCount = layerCount
        self.keyValueHeads = keyValueHeads
        self.headDimension = headDimension
        self.capacity = capacity
        self.precision = precision
        storage = KVCacheStorage(count: total, elementBytes: precision.elementBytes)
    }

    /// Forgets every position (keeps the allocation).
    public mutating func reset() { length = 0 }

    /// Drops positions from `newLength` on, e.g. to re-use a shared prompt prefix.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` unless `0 <= newLength <= length`.
    public mutating func truncate(to newLength: Int) throws(LanguageModelError) {
        guard newLength >= 0, newLength <= length else {
            throw .invalidInput("cannot truncate a cache of length \(length) to \(newLength)")
        }
        length = newLength
    }

    // MARK: Internal access for the decoder

    /// Throws unless `count` more positions fit.
    func checkRoom(for count: Int) throws(LanguageModelError) {
        guard count <= capacity - length else { throw .cacheOverflow(required: length + count, capacity: capacity) }
    }

    /// Marks `count` positions (already written in every layer) as stored.
    mutating func advance(by count: Int) {
        precondition(length + count <= capacity, "KV cache advanced past its capacity")
        length += count
    }

    /// Where each head's rows sit in the buffers.
    var layout: Layout { Layout(keyValueHeads: keyValueHeads, headDimension: headDimension, capacity: capacity) }

    /// Element offset of position 0 of (`layer`, `head`) in the key (or value) buffer.
    func headOffset(layer: Int, head: Int) -> Int { layout.headOffset(layer: layer, head: head) }

    /// Bytes of keys and values the cache reserves (`2 · layers · kvHeads · capacity · headDim`
    /// elements of ``precision``).
    public var reservedBytes: Int { 2 * storage.count * precision.elementBytes }

    /// Writable key and value buffers (elements of ``precision``), copying shared storage first. The
    /// pointers stay valid while the caller holds the cache `inout` and does not copy it.
    mutating func mutableBuffers() -> (keys: UnsafeMutableRawPointer, values: UnsafeMutableRawPointer) {
        if !isKnownUniquelyReferenced(&storage) {
            storage = storage.copy(usedPositions: length, layout: self)
        }
        return (storage.keys, storage.values)
    }

    /// The buffer geometry, without a reference to the storage (so holding it never forces a copy).
    struct Layout {
        let keyValueHeads: Int
        let headDimension: Int
        let capacity: Int

        func headOffset(layer: Int, head: Int) -> Int {
            ((layer * keyValueHeads) + head) * capacity * headDimension
        }
    }
}

/// The two allocations behind a ``KVCache``. Uninitialised on purpose: only positions below the
/// cache's length are ever read, so untouched pages are never committed.
///
/// Buffers of 4 MB and more are backed by 2 MB huge pages (``HugePageBuffers``; `MG_HUGE_PAGES=0`
/// turns them off): a decode step streams every head's cached rows, and with 4 KB pages the same
/// two-thread read of the cache ran at 30–51 GB/s where huge pages gave 34–63 (Zen 4, 2 cores,
/// Documentation/Quantization.md, session 12). A huge page is committed as a whole when one of
/// its positions is written, so a cache whose heads hold less than 2 MB each becomes resident up to
/// its capacity after its first positions rather than position by position.
final class KVCacheStorage: @unchecked Sendable {
    /// Elements per buffer.
    let count: Int
    let elementBytes: Int
    let keys: UnsafeMutableRawPointer
    let values: UnsafeMutableRawPointer
    /// Bytes each buffer was allocated with (what `HugePageBuffers.deallocate` needs).
    private let keyBytes: Int, valueBytes: Int

    init(count: Int, elementBytes: Int) {
        self.count = count
        self.elementBytes = elementBytes
        let buffers = HugePageBuffers.system
        let key = buffers.allocate(byteCount: count * elementBytes), value = buffers.allocate(byteCount: count * elementBytes)
        keys = key.pointer
        values = value.pointer
        keyBytes = key.byteCount
        valueBytes = value.byteCount
    }

    deinit {
        HugePageBuffers.system.deallocate(keys, byteCount: keyBytes)
        HugePageBuffers.system.deallocate(values, byteCount: valueBytes)
    }

    /// A new storage holding the first `usedPositions` rows of every head.
    func copy(usedPositions: Int, layout cache: KVCache) -> KVCacheStorage {
        let result = KVCacheStorage(count: count, elementBytes: elementBytes)
        let bytes = usedPositions * cache.headDimension * elementBytes
        for layer in 0..<cache.layerCount {
            for head in 0..<cache.keyValueHeads {
                let offset = cache.headOffset(layer: layer, head: head) * elementBytes
                (result.keys + offset).copyMemory(from: keys + offset, byteCount: bytes)
                (result.values + offset).copyMemory(from: values + offset, byteCount: bytes)
            }
        }
        return result
    }
}
