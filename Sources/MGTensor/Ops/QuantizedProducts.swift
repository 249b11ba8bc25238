import CMGKernels

// Products of F32 activations with GGML block-quantized weights, computed as llama.cpp does: each
// activation row is quantized once per block (Q8_0 for Q8_0/Q4_0 weights, Q8_K for K-quants), the
// block products are exact integer sums (VNNI `vpdpbusd`/`vpdpwssd`, AVX2 `vpmaddubsw`, or scalar C)
// and only the per-block scales are float. The weight bytes are read in place, never dequantized.
//
// Mixtral experts: a stacked expert tensor `[experts · out, in]` is one `QuantizedMatrix`; quantize
// the layer's activation rows once (`QuantizedActivations`), then for expert e call
// `quantizedGEMM(weight:rows: e·out ..< (e+1)·out, activations:, tokenRows: <indices of the tokens
// routed to e>, y:, ldy: out)`, which writes one output row per routed token; scale by the router
// weights when adding back.

/// Instruction-set tier of the quantized products, lowest first. The default is the best one the CPU
/// has, capped by the `MG_MAX_ISA` environment variable (`avx512bf16`/`avx512`/`amx` allow
/// AVX-512-VNNI, `avx2` allows AVX-VNNI and AVX2, `baseline` keeps the scalar code).
public enum QuantizedKernelTier: Int, Sendable, CaseIterable, Comparable {
    /// Portable C, and the reference the others are tested against.
    case scalar = 0
    /// AVX2 byte multiply-adds into int16 pairs.
    case avx2 = 1
    /// AVX-VNNI dot-product instructions on 256-bit vectors.
    case avxVNNI = 2
    /// AVX-512-VNNI (with VL) dot-product instructions on 256-bit vectors, 32 registers.
    case avx512VNNI = 3
    /// AVX-512-VNNI, with AMX-INT8 tile multiplies for the prefill panels (8 tokens or more);
    /// bit-identical to ``avx512VNNI``.
    case amxInt8 = 4

    /// The tier the products use unless told otherwise.
    public static let selected = QuantizedKernelTier(rawValue: Int(mg_qd_selected_tier())) ?? .scalar

    /// Whether this CPU can run the tier (ignoring `MG_MAX_ISA`).
    public var isAvailable: Bool { mg_qd_tier_available(Int32(rawValue)) != 0 }

    public static func < (a: QuantizedKernelTier, b: QuantizedKernelTier) -> Bool { a.rawValue < b.rawValue }
}

extension QuantizationFormat {
    /// Whether ``quantizedGEMV(weight:x:y:bias:tier:)`` and its relatives handle weights of this
    /// format (Q8_0, Q4_0, Q4_K, Q6_K).
    public var hasIntegerKernels: Bool { mg_qd_supports(rawValue) != 0 }
}

/// F32 activation rows quantized once for integer products with weights of one format: Q8_0 blocks
/// (`quantize_row_q8_0_ref`) for Q8_0/Q4_0 weights, Q8_K blocks (`quantize_row_q8_K_ref`) for
/// K-quants, with per-block sums alongside. The same rows serve every weight of that format and
/// width (the q, k, v projections; gate and up; all experts).
public final class QuantizedActivations: @unchecked Sendable {
    /// The weight format these rows are quantized for.
    public let format: QuantizationFormat
    /// Number of activation rows (tokens).
    public let rows: Int
    /// Values per row (the weights' `columns`).
    public let columns: Int
    /// Bytes between rows (64-byte multiple).
    public let rowByteCount: Int
    let base: UnsafeMutableRawPointer

    /// Quantizes `rows` rows of `columns` floats, `rowStride` floats apart (default `columns`).
    /// - Throws: ``TensorError/invalidArgument(operation:reason:)`` when `format` has no integer
    ///   kernels or `columns` is not a whole number of its blocks.
    public init(
        quantizing x: UnsafePointer<Float>, rows: Int, columns: Int, rowStride: Int? = nil, for format: QuantizationFormat
    ) throws(TensorError) {
        let rowBytes = mg_qd_activation_row_bytes(format.rawValue, columns)
        guard rows > 0, rowBytes > 0 else {
            throw .invalidArgument(
                operation: "QuantizedActivations",
                reason: "\(format.name) with \(columns) columns has no integer kernels (Q8_0, Q4_0, Q4_K, Q6_K; whole blocks)")
        }
        let (total, overflow) = rows.multipliedReportingOverflow(by: rowBytes)
        guard !overflow else { throw .invalidShape([rows, columns]) }
        self.format = format
        self.rows = rows
        self.columns = columns
        self.rowByteCount = rowBytes
        self.base = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 64)
        mg_qd_quantize_activation(
            format.rawValue, x, rowStride ?? columns, rows, columns, base.assumingMemoryBound(to: UInt8.self), rowBytes)
    }

    deinit { base.deallocate() }
}

private func checkProduct(_ operation: String, _ weight: QuantizedMatrix, _ activations: QuantizedActivations) throws(TensorError) {
    guard weight.format == activations.format, weight.columns == activations.columns else {
        throw .shapeMismatch(operation: operation, weight.shape, [activations.rows, activations.columns])
    }
}

/// Rows per parallel chunk of a product: enough bytes per chunk that the dispatch cost stays small.
private func minimumRowChunk(_ weight: QuantizedMatrix, tokens: Int) -> Int {
    max(4, (1 << 18) / max(1, weight.rowByteCount * min(tokens, 8)))
}

/// Rows per chunk of a one-token (decode) product over `rows` rows of `rowBytes` bytes, for
/// `Parallel.forEachTaperedChunk`. Each chunk starts one weight stream per row segment
/// (mg_qd_gemv), and with the memory in its fast state (a two-thread read at 48–60 GB/s on the
/// 2-core Zen 4 VM) every stream start costs about as much as the dispatch does: 256 KB chunks ran
/// the Gemma-2B o_proj regions (2.4 MB, nine chunks) at 72–80 % of the read, two 1.2 MB chunks at
/// 86–90 % (`Benchmarks/kernels/quant_decode_regions.c`). So a region of fewer than eight 1 MB
/// chunks per worker is cut into equal chunks, one to four per worker, so that the two cores finish
/// together without a long last chunk — but never below 256 KB, under which a region stays on one
/// thread as before (the hand-off costs more than it saves). A larger region's tapered chunks start
/// at an eighth of it and shrink to 256 KB at the end: with a 1 MB floor the caller of a Llama-7B
/// Q4_0 decode step waited 1.9–4.6 ms per step for the helper's last chunk, with 256 KB 0.4–1.2 ms
/// (Emerald Rapids, `MG_PARALLEL_STATS=1`, alternating processes, logits equal).
func decodeRowChunk(rowBytes: Int, rows: Int, workers: Int = Parallel.threadCount) -> Int {
    let rowBytes = max(1, rowBytes), workers = max(1, workers)
    let minimum = max(4, (1 << 20) / rowBytes), floor = max(4, (1 << 18) / rowBytes)
    guard rows < 8 * workers * minimum else { return floor }
    let perWorker = min(4, max(1, rows / (workers * minimum)))
    let chunks = workers * perWorker
    return max(floor, (rows + chunks - 1) / chunks)
}

/// `y[t·ldy + (r − rows.lowerBound)] = W[r] · X[tokenRows?[t] ?? t] (+ bias[r − rows.lowerBound])`
/// for each `r` in `rows` and `t < tokens` (the number of `tokenRows`, or `activations.rows`),
/// split over the worker threads by weight rows.
/// - Parameters:
///   - weight: the quantized matrix.
///   - rows: the weight rows to use (all of them by default; one expert's slice of a stacked
///     expert matrix for Mixtral).
///   - activations: the input rows, quantized once for `weight`'s format.
///   - tokenRows: activation rows to multiply, one output row each (the tokens routed to an expert).
///   - y: at least `tokens × ldy` floats; `ldy ≥ rows.count`.
///   - ldy: floats from one output row to the next (`rows.count` by default).
///   - bias: added to every output row, indexed like `rows`.
///   - tier: an explicit tier (tests); a tier the CPU lacks falls back to the best below it.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the activations were quantized for
///   another format or width; ``TensorError/indexOutOfRange(operation:index:count:)`` for rows or
///   token indices outside the matrices; ``TensorError/invalidArgument(operation:reason:)`` when
///   `ldy < rows.count`.
public func quantizedGEMM(
    weight: QuantizedMatrix, rows: Range<Int>? = nil, activations: QuantizedActivations, tokenRows: [Int32]? = nil,
    y: UnsafeMutablePointer<Float>, ldy: Int? = nil, bias: UnsafePointer<Float>? = nil, tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    try checkProduct("quantizedGEMM", weight, activations)
    let rows = rows ?? 0..<weight.rows
    guard rows.lowerBound >= 0, rows.upperBound <= weight.rows else {
        throw .indexOutOfRange(operation: "quantizedGEMM", index: rows.upperBound - 1, count: weight.rows)
    }
    if let tokenRows, let bad = tokenRows.first(where: { $0 < 0 || Int($0) >= activations.rows }) {
        throw .indexOutOfRange(operation: "quantizedGEMM", index: Int(bad), count: activations.rows)
    }
    let ldy = ldy ?? rows.count
    guard ldy >= rows.count else { throw .invalidArgument(operation: "quantizedGEMM", reason: "ldy \(ldy) < \(rows.count) rows") }
    let tokens = tokenRows?.count ?? activations.rows
    guard tokens > 0, !rows.isEmpty else { return }
    let tierValue = Int32(tier?.rawValue ?? -1)
    let weightBase = weight.rowBase(rows.lowerBound).assumingMemoryBound(to: UInt8.self)
    let shared = UncheckedSendable((y, bias, activations.base))
    // From 8 tokens on, the kernels unpack panels of 16 weight rows: chunks are whole panels.
    let panel = tokens >= 8 ? 16 : 1
    func run(_ tokenIndices: UnsafePointer<Int32>?) {
        let panels = (rows.count + panel - 1) / panel
        let minimum = tokens == 1
            ? decodeRowChunk(rowBytes: weight.rowByteCount, rows: rows.count)
            : max(1, minimumRowChunk(weight, tokens: tokens) / panel)
        let body = { (panels: Range<Int>) in
            let chunk = (panels.lowerBound * panel)..<min(rows.count, panels.upperBound * panel)
            let (y, bias, xa) = shared.value
            mg_qd_gemm(
                tierValue, weight.format.rawValue, weightBase, weight.rowByteCount, chunk.lowerBound, chunk.upperBound,
                xa.assumingMemoryBound(to: UInt8.self), activations.rowByteCount, tokenIndices, tokens, weight.columns,
                bias.map { $0 + chunk.lowerBound }, y + chunk.lowerBound, ldy)
        }
        // Each output row is computed alone below 8 tokens, so shrinking chunks change no bit.
        if panel == 1 {
            Parallel.forEachTaperedChunk(count: panels, minimumChunk: minimum, body)
        } else {
            Parallel.forEachChunk(count: panels, minimumChunk: minimum, body)
        }
    }
    if let tokenRows {
        tokenRows.withUnsafeBufferPointer { run($0.baseAddress) }
    } else {
        run(nil)
    }
    withExtendedLifetime(activations) {}
}

/// Prefill product `y = x · Wᵀ (+ bias)`: `x` is `rows × weight.columns` F32 (row-major), `y` is
/// `rows × weight.rows`. Activation rows are quantized once; from 8 rows on, panels of 16 weight
/// rows are unpacked to bytes once and every token meets them with VNNI dot products (fewer rows:
/// tiles of one weight row by up to four tokens).
/// - Throws: as ``quantizedGEMM(weight:rows:activations:tokenRows:y:ldy:bias:tier:)``, and
///   ``TensorError/invalidArgument(operation:reason:)`` for a format without integer kernels.
public func quantizedGEMM(
    weight: QuantizedMatrix, x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>,
    bias: UnsafePointer<Float>? = nil, tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    let activations = try QuantizedActivations(quantizing: x, rows: rows, columns: weight.columns, for: weight.format)
    try quantizedGEMM(weight: weight, activations: activations, y: y, bias: bias, tier: tier)
}

/// Decode product `y = W · x (+ bias)` for one activation vector of `weight.columns` floats; `y`
/// holds `weight.rows` floats.
/// - Throws: as ``quantizedGEMM(weight:x:rows:y:bias:tier:)``.
public func quantizedGEMV(
    weight: QuantizedMatrix, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    bias: UnsafePointer<Float>? = nil, tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    try quantizedGEMM(weight: weight, x: x, rows: 1, y: y, bias: bias, tier: tier)
}

/// Decode products of several quantized matrices that share one input row (a layer's q/k/v):
/// `outputs[i] = weights[i] · x`, the row quantized once per format and one parallel pass over the
/// rows of all matrices (one hand-off to the worker threads instead of one per matrix).
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the matrices differ in width;
///   ``TensorError/invalidArgument(operation:reason:)`` for a format without integer kernels.
public func quantizedGEMVs(
    _ weights: [QuantizedMatrix], x: UnsafePointer<Float>, outputs: [UnsafeMutablePointer<Float>], tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    guard let first = weights.first else { return }
    guard outputs.count == weights.count, weights.allSatisfy({ $0.columns == first.columns }) else {
        throw .shapeMismatch(operation: "quantizedGEMVs", first.shape, weights.last?.shape ?? [])
    }
    var byFormat: [QuantizationFormat: QuantizedActivations] = [:]
    for weight in weights where byFormat[weight.format] == nil {
        byFormat[weight.format] = try QuantizedActivations(quantizing: x, rows: 1, columns: first.columns, for: weight.format)
    }
    var starts = [0]
    for weight in weights { starts.append(starts[starts.count - 1] + weight.rows) }
    let jobs = weights.indices.map { i in
        (weights[i], byFormat[weights[i].format]!.base, outputs[i], starts[i])
    }
    let shared = UncheckedSendable(jobs)
    let tierValue = Int32(tier?.rawValue ?? -1)
    let total = starts[starts.count - 1]
    Parallel.forEachTaperedChunk(count: total, minimumChunk: decodeRowChunk(rowBytes: first.rowByteCount, rows: total)) { chunk in
        for (weight, xa, y, start) in shared.value {
            let lower = max(chunk.lowerBound, start) - start, upper = min(chunk.upperBound, start + weight.rows) - start
            guard lower < upper else { continue }
            mg_qd_gemv(
                tierValue, weight.format.rawValue, weight.rowBase(0).assumingMemoryBound(to: UInt8.self), weight.rowByteCount,
                lower, upper, xa.assumingMemoryBound(to: UInt8.self), weight.columns, nil, y + lower)
        }
    }
    withExtendedLifetime(byFormat) {}
}

/// Decode MLP input side, `y = act(gate · x) ⊙ (up · x)`, with the activation quantized once for
/// both matrices and the gate/up outputs combined per chunk of rows (never written out whole).
/// `y` holds `gate.rows` floats.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when gate and up differ in shape or
///   format; otherwise as ``quantizedGEMM(weight:x:rows:y:bias:tier:)``.
public func quantizedGatedGEMV(
    gate: QuantizedMatrix, up: QuantizedMatrix, x: UnsafePointer<Float>, activation: GatedActivation,
    y: UnsafeMutablePointer<Float>, tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    guard gate.shape == up.shape, gate.format == up.format else {
        throw .shapeMismatch(operation: "quantizedGatedGEMV", gate.shape, up.shape)
    }
    let activations = try QuantizedActivations(quantizing: x, rows: 1, columns: gate.columns, for: gate.format)
    try quantizedGatedGEMV(gate: gate, up: up, activations: activations, activation: activation, y: y, tier: tier)
}

/// ``quantizedGatedGEMV(gate:up:x:activation:y:tier:)`` on an already quantized row (its first row;
/// Mixtral experts pass `rows` to use one expert's slice of stacked gate/up matrices).
public func quantizedGatedGEMV(
    gate: QuantizedMatrix, up: QuantizedMatrix, rows: Range<Int>? = nil, activations: QuantizedActivations,
    activation: GatedActivation, y: UnsafeMutablePointer<Float>, tier: QuantizedKernelTier? = nil
) throws(TensorError) {
    guard gate.shape == up.shape, gate.format == up.format else {
        throw .shapeMismatch(operation: "quantizedGatedGEMV", gate.shape, up.shape)
    }
    try checkProduct("quantizedGatedGEMV", gate, activations)
    let rows = rows ?? 0..<gate.rows
    guard rows.lowerBound >= 0, rows.upperBound <= gate.rows else {
        throw .indexOutOfRange(operation: "quantizedGatedGEMV", index: rows.upperBound - 1, count: gate.rows)
    }
    let tierValue = Int32(tier?.rawValue ?? -1)
    let kind = Int32(activation.kernel.rawValue)
    let gateBase = gate.rowBase(rows.lowerBound).assumingMemoryBound(to: UInt8.self)
    let upBase = up.rowBase(rows.lowerBound).assumingMemoryBound(to: UInt8.self)
    let shared = UncheckedSendable((y, activations.base))
    // Chunk rows count twice (gate and up rows).
    let minimum = max(64, decodeRowChunk(rowBytes: 2 * gate.rowByteCount, rows: rows.count))
    Parallel.forEachTaperedChunk(count: rows.count, minimumChunk: minimum) { chunk in
        let (y, xa) = shared.value
        mg_qd_gemv_gated(
            tierValue, gate.format.rawValue, gateBase, upBase, gate.rowByteCount, chunk.lowerBound, chunk.upperBound,
            xa.assumingMemoryBound(to: UInt8.self), gate.columns, kind, y + chunk.lowerBound)
    }
    withExtendedLifetime(activations) {}
}

extension QuantizedMatrix {
    /// Row `row` dequantized to F32 as ggml's `dequantize_row_*` does (`mg_dequantize_blocks`), or
    /// nil for a format without integer kernels (tests and the F32 reference of the integer products).
    func dequantizedRow(_ row: Int) -> [Float]? {
        guard format.hasIntegerKernels, row >= 0, row < rows else { return nil }
        var values = [Float](repeating: 0, count: columns)
        let status = values.withUnsafeMutableBufferPointer { out in
            mg_dequantize_blocks(Int32(format.rawValue), rowBase(row), out.baseAddress, columns / format.blockSize)
        }
        return status == 0 ? values : nil
    }
}
