import CMGKernels
import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// Attention over an IEEE-half KV cache (``KVCachePrecision/float16``) at every kernel tier this
/// machine runs, in one process, against a Float64 attention of the same rounded keys and values.
@Suite struct HalfCacheAttentionTests {
    /// One call's geometry: head width, query heads per key/value head, new rows, cached positions
    /// before them, sliding window (0: none).
    struct Case: Sendable, CustomStringConvertible {
        let headDim, group, rows, past, window: Int
        var description: String { "d\(headDim) g\(group) rows\(rows) past\(past) window\(window)" }
    }

    /// Decode (one row against 300 cached keys, Llama-7B's head width), prefill (37 rows from
    /// position 0), a second chunk (9 rows after 20), grouped heads (Gemma's 8 sharing one of 256
    /// wide), a sliding window, and head widths that are not a multiple of 16 (72: the AVX2 kernel
    /// at the AVX-512 tiers) or 8 (20: the portable kernel at every tier).
    static let cases = [
        Case(headDim: 128, group: 1, rows: 1, past: 300, window: 0),
        Case(headDim: 128, group: 1, rows: 37, past: 0, window: 0),
        Case(headDim: 64, group: 2, rows: 9, past: 20, window: 0),
        Case(headDim: 256, group: 8, rows: 1, past: 130, window: 0),
        Case(headDim: 128, group: 4, rows: 5, past: 40, window: 16),
        Case(headDim: 72, group: 2, rows: 3, past: 11, window: 0),
        Case(headDim: 20, group: 3, rows: 2, past: 6, window: 0),
    ]

    /// Tolerance: |out − reference| ≤ 2e-6 · max|v| per element. The kernel widens the halves
    /// exactly, so the only error is F32 arithmetic (dot products of ≤ 256 terms, a softmax and a
    /// weighted sum of ≤ 301 values): measured ~1e-7 with |v| ≤ 1.5. Rounding K/V to half once more,
    /// or reading them as F32, would be ~1e-3.
    @Test(arguments: KernelTier.supported, cases)
    func matchesFloat64OfRoundedCache(tier: KernelTier, shape: Case) throws {
        let kvHeads = 2, heads = kvHeads * shape.group, d = shape.headDim
        let capacity = shape.past + shape.rows
        let inputs = try HalfCacheInputs(seed: 1700, queryCount: shape.rows * heads * d, cacheCount: kvHeads * capacity * d)
        let (q, halfKeys, halfValues, wideKeys, wideValues) = (inputs.q, inputs.halfKeys, inputs.halfValues, inputs.wideKeys, inputs.wideValues)
        let scale = 1 / Float(d).squareRoot()

        var out = [Float](repeating: .nan, count: q.count)
        var scratch = [Float](repeating: 0, count: shape.group * capacity)
        for head in 0..<kvHeads {
            halfKeys.withUnsafeBufferPointer { k in
                halfValues.withUnsafeBufferPointer { v in
                    mg_decoder_attention_f16_at(
                        Int32(tier.rawValue), q, heads * d, k.baseAddress! + head * capacity * d,
                        v.baseAddress! + head * capacity * d, d, shape.group, head, 0, shape.rows, shape.past,
                        shape.window, scale, &out, &scratch)
                }
            }
        }
        let reference = Self.reference(
            q: q, keys: wideKeys, values: wideValues, shape: shape, heads: heads, capacity: capacity, scale: Double(scale))
        let worst = zip(out, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 2e-6 * 1.5, "\(tier) \(shape): max error \(worst)")
    }

    /// A decode row's positions cut into parts (mg_decoder_attention_f16_part, one per thread in
    /// cachedAttention) and merged (mg_decoder_attention_merge) equal the Float64 attention of the
    /// rounded cache at every tier: one part, two, three, and an empty part among them (tolerance as
    /// above; the merge rescales each part's sums once more).
    @Test(arguments: KernelTier.supported, cases.filter { $0.rows == 1 } + [
        Case(headDim: 64, group: 2, rows: 1, past: 20, window: 0), Case(headDim: 128, group: 4, rows: 1, past: 40, window: 16),
        Case(headDim: 72, group: 2, rows: 1, past: 11, window: 0), Case(headDim: 20, group: 3, rows: 1, past: 6, window: 0),
        Case(headDim: 256, group: 5, rows: 1, past: 97, window: 0),
    ])
    func positionPartsMergeToTheAttention(tier: KernelTier, shape: Case) throws {
        let heads = shape.group, d = shape.headDim, capacity = shape.past + 1
        let inputs = try HalfCacheInputs(seed: 1720, queryCount: heads * d, cacheCount: capacity * d)
        let (q, halfKeys, halfValues, wideKeys, wideValues) = (inputs.q, inputs.halfKeys, inputs.halfValues, inputs.wideKeys, inputs.wideValues)
        let reference = Self.reference(
            q: q, keys: wideKeys, values: wideValues, shape: shape, heads: heads, capacity: capacity,
            scale: 1 / Double(d).squareRoot())
        let first = shape.window > 0 ? max(0, shape.past + 1 - shape.window) : 0, end = shape.past + 1
        let middle = (first + end) / 2, third = (end - first) / 3
        for bounds in [[first, end], [first, middle, end], [first, first + third, first + 2 * third, end], [first, middle, middle, end]] {
            let parts = bounds.count - 1, partFloats = heads * (d + 2)
            var partials = [Float](repeating: .nan, count: parts * partFloats)
            var scratch = [Float](repeating: 0, count: heads * capacity)
            var out = [Float](repeating: .nan, count: heads * d)
            partials.withUnsafeMutableBufferPointer { p in
                for part in 0..<parts {
                    mg_decoder_attention_f16_part_at(
                        Int32(tier.rawValue), q, halfKeys, halfValues, d, heads, bounds[part], bounds[part + 1],
                        1 / Float(d).squareRoot(), p.baseAddress! + part * partFloats, &scratch)
                }
                let pointers: [UnsafePointer<Float>?] = (0..<parts).map { UnsafePointer(p.baseAddress! + $0 * partFloats) }
                mg_decoder_attention_merge(pointers, parts, heads, d, &out)
            }
            let worst = zip(out, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(worst <= 2e-6 * 1.5, "\(tier) \(shape) parts \(bounds): max error \(worst)")
        }
    }

    /// A Gemma-shaped decode step through ``cachedAttention(query:key:value:sequences:heads:keyValueHeads:slidingWindow:)``:
    /// one sequence, one row, 8 query heads on a single key/value head of 256 over an F16 cache —
    /// with two or more threads the positions are split over them and merged — equals the Float64
    /// attention of the rounded cache (tolerance 3e-6 of max|v|).
    @Test func singleHeadDecodeSplitsPositions() throws {
        let heads = 8, d = 256, past = 300, capacity = 320
        var halfKeys = [UInt16](repeating: 0, count: capacity * d), halfValues = halfKeys
        let history = try DeterministicData.tensor(seed: 1725, shape: [2 * halfKeys.count], low: -1.5, high: 1.5).floats()
        mg_f32_to_f16(history, &halfKeys, halfKeys.count)
        mg_f32_to_f16(Array(history[halfKeys.count...]), &halfValues, halfValues.count)
        let query = try DeterministicData.tensor(seed: 1726, shape: [1, heads * d], low: -2, high: 2)
        let key = try DeterministicData.tensor(seed: 1727, shape: [1, d], low: -1.5, high: 1.5)
        let value = try DeterministicData.tensor(seed: 1728, shape: [1, d], low: -1.5, high: 1.5)
        let out = try halfKeys.withUnsafeMutableBufferPointer { k in
            try halfValues.withUnsafeMutableBufferPointer { v in
                let sequence = AttentionCacheSequence(
                    rows: 0..<1, past: past, keyStorage: UnsafeMutableRawPointer(k.baseAddress!),
                    valueStorage: UnsafeMutableRawPointer(v.baseAddress!), precision: .float16, headStride: capacity * d,
                    capacity: capacity)
                return try cachedAttention(query: query, key: key, value: value, sequences: [sequence], heads: heads, keyValueHeads: 1)
            }
        }.floats()
        var wideKeys = [Float](repeating: 0, count: halfKeys.count), wideValues = wideKeys
        mg_f16_to_f32(halfKeys, &wideKeys, halfKeys.count)
        mg_f16_to_f32(halfValues, &wideValues, halfValues.count)
        let reference = Self.reference(
            q: query.floats(), keys: wideKeys, values: wideValues,
            shape: Case(headDim: d, group: heads, rows: 1, past: past, window: 0), heads: heads, capacity: capacity,
            scale: 1 / Double(d).squareRoot())
        let worst = zip(out, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst <= 3e-6 * 1.5, "max error \(worst)")
    }

    /// Rounding into the cache is the same IEEE round-to-nearest-even at every tier (F16C's
    /// vcvtps2ph and the portable conversion): bit-identical on normal, subnormal, overflowing and
    /// tie-breaking values.
    @Test(arguments: KernelTier.supported)
    func storeRoundsAlikeAtEveryTier(tier: KernelTier) throws {
        var source = try DeterministicData.tensor(seed: 1703, shape: [203], low: -70000, high: 70000).floats()
        source += [0, -0, 1e-8, -3e-6, 6.1e-5, 65504, 65519.99, 65520, -1e9, .infinity, -.infinity, 1 + 0x1p-11, 1 + 0x1p-10 + 0x1p-11]
        source += try DeterministicData.tensor(seed: 1704, shape: [37], low: -1e-4, high: 1e-4).floats()
        var expected = [UInt16](repeating: 0, count: source.count), actual = expected
        mg_f32_to_f16(source, &expected, source.count)
        mg_kv_store_f16_at(Int32(tier.rawValue), source, &actual, source.count)
        #expect(actual == expected, "\(tier)")
        // Ties go to even: 1 + 2⁻¹¹ rounds down to 1, 1 + 2⁻¹⁰ + 2⁻¹¹ up to 1 + 2⁻⁹.
        #expect(actual[203 + 11] == 0x3c00 && actual[203 + 12] == 0x3c02)
    }

    /// The public entry point: an F16 cache written and read through ``cachedAttention(query:key:value:sequences:heads:keyValueHeads:slidingWindow:)``,
    /// two sequences at different positions (a batched decode step) split across the cores, equals
    /// the Float64 attention of the half-rounded keys and values (tolerance 3e-6 of max|v|), and
    /// differs from the F32 cache's result (the F16 path is the one taken).
    @Test func cachedAttentionReadsTheHalfCache() throws {
        let heads = 8, kvHeads = 4, d = 64, capacity = 64, group = heads / kvHeads
        let pasts = [23, 41]
        var halfKeys = [UInt16](repeating: 0, count: pasts.count * kvHeads * capacity * d), halfValues = halfKeys
        var floatKeys = [Float](repeating: 0, count: halfKeys.count), floatValues = floatKeys
        let history = try DeterministicData.tensor(seed: 1705, shape: [2 * halfKeys.count], low: -1.5, high: 1.5).floats()
        mg_f32_to_f16(history, &halfKeys, halfKeys.count)
        mg_f32_to_f16(Array(history[halfKeys.count...]), &halfValues, halfValues.count)
        mg_f16_to_f32(halfKeys, &floatKeys, halfKeys.count)
        mg_f16_to_f32(halfValues, &floatValues, halfValues.count)
        let query = try DeterministicData.tensor(seed: 1706, shape: [2, heads * d], low: -2, high: 2)
        let key = try DeterministicData.tensor(seed: 1707, shape: [2, kvHeads * d], low: -1.5, high: 1.5)
        let value = try DeterministicData.tensor(seed: 1708, shape: [2, kvHeads * d], low: -1.5, high: 1.5)
        let perSequence = kvHeads * capacity * d

        let half = try halfKeys.withUnsafeMutableBufferPointer { k in
            try halfValues.withUnsafeMutableBufferPointer { v in
                let sequences = pasts.indices.map { s in
                    AttentionCacheSequence(
                        rows: s..<s + 1, past: pasts[s], keyStorage: UnsafeMutableRawPointer(k.baseAddress! + s * perSequence),
                        valueStorage: UnsafeMutableRawPointer(v.baseAddress! + s * perSequence), precision: .float16,
                        headStride: capacity * d, capacity: capacity)
                }
                return try cachedAttention(query: query, key: key, value: value, sequences: sequences, heads: heads, keyValueHeads: kvHeads)
            }
        }.floats()
        let full = try floatKeys.withUnsafeMutableBufferPointer { k in
            try floatValues.withUnsafeMutableBufferPointer { v in
                let sequences = pasts.indices.map { s in
                    AttentionCacheSequence(
                        rows: s..<s + 1, past: pasts[s], keys: k.baseAddress! + s * perSequence, values: v.baseAddress! + s * perSequence,
                        headStride: capacity * d, capacity: capacity)
                }
                return try cachedAttention(query: query, key: key, value: value, sequences: sequences, heads: heads, keyValueHeads: kvHeads)
            }
        }.floats()

        // The new rows were rounded into the half cache; the reference reads them back from it.
        var wideKeys = [Float](repeating: 0, count: halfKeys.count), wideValues = wideKeys
        mg_f16_to_f32(halfKeys, &wideKeys, halfKeys.count)
        mg_f16_to_f32(halfValues, &wideValues, halfValues.count)
        let q = query.floats()
        var worst = 0.0
        for s in pasts.indices {
            let shape = Case(headDim: d, group: group, rows: 1, past: pasts[s], window: 0)
            for head in 0..<kvHeads {
                let base = s * perSequence + head * capacity * d
                let reference = Self.reference(
                    q: Array(q[s * heads * d..<(s + 1) * heads * d]), keys: Array(wideKeys[base..<base + capacity * d]),
                    values: Array(wideValues[base..<base + capacity * d]), shape: shape, heads: heads, capacity: capacity,
                    scale: 1 / Double(d).squareRoot(), onlyKVHead: head, kvHeadStride: 0)
                for g in 0..<group {
                    let column = (head * group + g) * d
                    for i in 0..<d {
                        worst = max(worst, abs(Double(half[s * heads * d + column + i]) - reference[column + i]))
                    }
                }
            }
        }
        #expect(worst <= 3e-6 * 1.5, "max error \(worst)")
        let gap = zip(half, full).map { abs($0 - $1) }.max() ?? 0
        #expect(gap > 1e-5, "F16 and F32 caches gave the same output (\(gap)): the half path was not taken")
    }

    /// A decode step with fewer key/value heads than threads runs each head's query heads in
    /// slices, one per thread (`cachedAttention`); that is only sound if a slice computed as a group
    /// of its own gives the very bits of the whole group, for the F32 and the F16 kernels alike.
    /// Sequences must name disjoint rows (the output is not zero-filled when they name every row):
    /// two sequences on the same row are refused instead of leaving another row unwritten.
    @Test func overlappingSequencesAreRefused() throws {
        let heads = 2, d = 16, capacity = 8
        var keys = [Float](repeating: 0, count: 2 * heads * capacity * d), values = keys
        let query = try DeterministicData.tensor(seed: 1711, shape: [2, heads * d], low: -1, high: 1)
        let key = try DeterministicData.tensor(seed: 1712, shape: [2, heads * d], low: -1, high: 1)
        try keys.withUnsafeMutableBufferPointer { k in
            try values.withUnsafeMutableBufferPointer { v in
                let sequences = (0..<2).map { s in
                    AttentionCacheSequence(
                        rows: 0..<1 + s, past: 0, keys: k.baseAddress! + s * heads * capacity * d,
                        values: v.baseAddress! + s * heads * capacity * d, headStride: capacity * d, capacity: capacity)
                }
                #expect(throws: TensorError.self) {
                    try cachedAttention(query: query, key: key, value: key, sequences: sequences, heads: heads, keyValueHeads: heads)
                }
                let disjoint = [sequences[0], AttentionCacheSequence(
                    rows: 1..<2, past: 0, keys: k.baseAddress! + heads * capacity * d, values: v.baseAddress! + heads * capacity * d,
                    headStride: capacity * d, capacity: capacity)]
                let output = try cachedAttention(query: query, key: key, value: key, sequences: disjoint, heads: heads, keyValueHeads: heads)
                #expect(output.shape == [2, heads * d])
            }
        }
    }

    @Test func querySlicesAreBitIdentical() throws {
        let d = 256, group = 8, past = 70, capacity = past + 1
        let inputs = try HalfCacheInputs(seed: 1710, queryCount: group * d, cacheCount: capacity * d)
        let (q, keys, values, halfKeys, halfValues) = (inputs.q, inputs.keys, inputs.values, inputs.halfKeys, inputs.halfValues)
        let scale = 1 / Float(d).squareRoot()
        var scratch = [Float](repeating: 0, count: group * capacity)
        for half in [false, true] {
            func run(first: Int, members: Int, into out: inout [Float]) {
                q.withUnsafeBufferPointer { qs in
                    out.withUnsafeMutableBufferPointer { os in
                        let qp = qs.baseAddress! + first * d, op = os.baseAddress! + first * d
                        if half {
                            mg_decoder_attention_f16(qp, group * d, halfKeys, halfValues, d, members, 0, 0, 1, past, 0, scale, op, &scratch)
                        } else {
                            mg_decoder_attention(qp, group * d, keys, values, d, members, 0, 0, 1, past, 0, scale, op, &scratch)
                        }
                    }
                }
            }
            var whole = [Float](repeating: .nan, count: group * d), sliced = whole
            run(first: 0, members: group, into: &whole)
            run(first: 0, members: 3, into: &sliced)
            run(first: 3, members: 5, into: &sliced)
            #expect(whole.map(\.bitPattern) == sliced.map(\.bitPattern), "half cache: \(half)")
        }
    }

    /// Float64 attention of `q` `[rows, heads·d]` against `[kvHeads, capacity, d]` keys and values.
    /// With `onlyKVHead`, `keys`/`values` hold that head's block alone (`kvHeadStride` 0).
    static func reference(
        q: [Float], keys: [Float], values: [Float], shape: Case, heads: Int, capacity: Int, scale: Double,
        onlyKVHead: Int? = nil, kvHeadStride: Int? = nil
    ) -> [Double] {
        let d = shape.headDim
        let stride = kvHeadStride ?? capacity * d
        var out = [Double](repeating: 0, count: shape.rows * heads * d)
        for t in 0..<shape.rows {
            let last = shape.past + t
            let first = shape.window > 0 ? max(0, last + 1 - shape.window) : 0
            for h in 0..<heads {
                let kvHead = h / shape.group
                if let only = onlyKVHead, only != kvHead { continue }
                let block = kvHead * stride
                var scores = [Double]()
                for j in first...last {
                    var dot = 0.0
                    for i in 0..<d { dot += Double(q[t * heads * d + h * d + i]) * Double(keys[block + j * d + i]) }
                    scores.append(dot * scale)
                }
                let top = scores.max()!
                let weights = scores.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                for i in 0..<d {
                    var sum = 0.0
                    for (index, j) in (first...last).enumerated() { sum += weights[index] * Double(values[block + j * d + i]) }
                    out[t * heads * d + h * d + i] = sum / total
                }
            }
        }
        return out
    }
}

/// A random query and cache (seeds `seed`, `seed + 1`, `seed + 2`) with the keys and values rounded
/// to halves once, as the F16 cache stores them, and widened back exactly (what the kernel reads).
private struct HalfCacheInputs {
    let q, keys, values, wideKeys, wideValues: [Float]
    let halfKeys, halfValues: [UInt16]

    init(seed: UInt64, queryCount: Int, cacheCount: Int) throws {
        q = try DeterministicData.tensor(seed: seed, shape: [queryCount], low: -2, high: 2).floats()
        keys = try DeterministicData.tensor(seed: seed + 1, shape: [cacheCount], low: -1.5, high: 1.5).floats()
        values = try DeterministicData.tensor(seed: seed + 2, shape: [cacheCount], low: -1.5, high: 1.5).floats()
        var halfKeys = [UInt16](repeating: 0, count: cacheCount), halfValues = halfKeys
        mg_f32_to_f16(keys, &halfKeys, cacheCount)
        mg_f32_to_f16(values, &halfValues, cacheCount)
        var wideKeys = [Float](repeating: 0, count: cacheCount), wideValues = wideKeys
        mg_f16_to_f32(halfKeys, &wideKeys, cacheCount)
        mg_f16_to_f32(halfValues, &wideValues, cacheCount)
        (self.halfKeys, self.halfValues, self.wideKeys, self.wideValues) = (halfKeys, halfValues, wideKeys, wideValues)
    }
}
