import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// The integer products on GGML blocks: every vector tier this CPU has against the scalar tier
/// (same integer sums, float additions in another order: relative 1e-5 of Σ|w·x|), and the scalar
/// tier against the F32 product of the dequantized weights, within the bound the activation
/// quantization allows (each activation moves by at most 0.5 step of its block, plus f16 rounding
/// of the Q8_0 step: Σ|w|·step·0.57).
@Suite struct QuantizedProductTests {
    static let formats: [QuantizationFormat] = [.q8_0, .q4_0, .q4_K, .q6_K]

    /// Random valid blocks: random bytes, then each block's f16 scales (and Q4_K's f16 min scale)
    /// set to small random values so products stay finite.
    static func randomMatrix(_ format: QuantizationFormat, rows: Int, columns: Int, seed: UInt64) throws -> QuantizedMatrix {
        var generator = SplitMix(seed: seed)
        let rowBytes = format.rowByteCount(columns: columns)!
        let storage = TensorStorage(allocating: rows * rowBytes, dtype: .u8)
        let bytes = storage.mutableBase.assumingMemoryBound(to: UInt8.self)
        for i in 0..<rows * rowBytes { bytes[i] = UInt8(truncatingIfNeeded: generator.next()) }
        let scaleOffsets: [Int] = switch format {
        case .q8_0, .q4_0: [0]
        case .q4_K: [0, 2]
        case .q6_K: [208]
        default: []
        }
        for block in 0..<rows * rowBytes / format.bytesPerBlock {
            for offset in scaleOffsets {
                let scale = Float16(Float(Int(generator.next() % 2001) - 1000) * 1e-5)
                withUnsafeBytes(of: scale.bitPattern.littleEndian) { raw in
                    (bytes + block * format.bytesPerBlock + offset).update(from: raw.bindMemory(to: UInt8.self).baseAddress!, count: 2)
                }
            }
        }
        return try QuantizedMatrix(format: format, rows: rows, columns: columns, storage: storage)
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Activations with rows of very different magnitudes and a few exact zeros (all-zero blocks).
    static func activations(rows: Int, columns: Int, seed: UInt64) -> [Float] {
        let base = DeterministicData.uniform(seed: seed, count: rows * columns)
        return (0..<rows * columns).map { i in
            let row = i / columns
            if row == 1, i % columns < 256 { return 0 }
            return base[i] * [1, 3e-3, 40][row % 3]
        }
    }

    static func product(_ weight: QuantizedMatrix, _ x: [Float], rows: Int, tier: QuantizedKernelTier?) throws -> [Float] {
        var y = [Float](repeating: .nan, count: rows * weight.rows)
        try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMM(weight: weight, x: xs.baseAddress!, rows: rows, y: ys.baseAddress!, tier: tier)
            }
        }
        return y
    }

    /// 1 token runs the decode rows (37 rows: 4 or 2 segments and a remainder), 7 the per-row tiles,
    /// 19 the panels of 16 rows (37 rows: a partial panel) over rows of two panel passes (Q8_0/Q4_0:
    /// 41 blocks, an odd Q4_0 tail block; K-quants: 5 super-blocks).
    @Test(arguments: formats, [1, 7, 19])
    func vectorTiersMatchScalar(format: QuantizationFormat, tokens: Int) throws {
        let columns = format.blockSize == 32 ? 1312 : 1280, outputs = 37
        let weight = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: UInt64(format.rawValue))
        let x = Self.activations(rows: tokens, columns: columns, seed: 5)
        let reference = try Self.product(weight, x, rows: tokens, tier: .scalar)
        let dequantized = (0..<outputs).map { weight.dequantizedRow($0)! }
        for tier in QuantizedKernelTier.allCases where tier > .scalar && tier.isAvailable {
            let y = try Self.product(weight, x, rows: tokens, tier: tier)
            for t in 0..<tokens {
                for r in 0..<outputs {
                    var magnitude = 0.0
                    for k in 0..<columns { magnitude += abs(Double(dequantized[r][k]) * Double(x[t * columns + k])) }
                    let error = abs(Double(y[t * outputs + r]) - Double(reference[t * outputs + r]))
                    #expect(error <= 1e-5 * magnitude + 1e-30, "\(format.name) \(tier) token \(t) row \(r): \(y[t * outputs + r]) vs \(reference[t * outputs + r])")
                }
            }
        }
    }

    /// The decode rows (several weight rows per pass, one token) do per row the float operations of
    /// the per-row tiles, so at each tier a one-token product equals, bit for bit, that token's row
    /// of a 7-token product (which runs the per-row tiles); 45 and 6 rows cover whole segments,
    /// remainders and fewer rows than one pass.
    @Test(arguments: formats, [45, 6])
    func decodeRowsEqualRowTiles(format: QuantizationFormat, outputs: Int) throws {
        let columns = format.blockSize == 32 ? 1312 : 1280, tokens = 7
        let weight = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 40 + UInt64(format.rawValue))
        let x = Self.activations(rows: tokens, columns: columns, seed: 41)
        for tier in QuantizedKernelTier.allCases where tier.isAvailable {
            let tiles = try Self.product(weight, x, rows: tokens, tier: tier)
            for t in [0, 2] {
                let one = try Self.product(weight, Array(x[t * columns..<(t + 1) * columns]), rows: 1, tier: tier)
                for r in 0..<outputs {
                    #expect(one[r].bitPattern == tiles[t * outputs + r].bitPattern, "\(format.name) \(tier) token \(t) row \(r): \(one[r]) vs \(tiles[t * outputs + r])")
                }
            }
        }
    }

    /// The AMX-INT8 panels take the same integer sums out of the tiles and apply the same float
    /// operations per token and row as the AVX-512-VNNI panels, so the two tiers agree bit for bit:
    /// 8 … 37 tokens cover one partial tile, whole tiles and a tail; two panel passes per row, an
    /// odd Q4_0 tail block, a partial panel of 37 rows. Routed tokens (an expert's, in any order and
    /// repeated) are not evenly spaced and go through the copied activation rows.
    @Test(.enabled(if: QuantizedKernelTier.amxInt8.isAvailable), arguments: formats, [8, 16, 37])
    func amxPanelsEqualVNNIPanels(format: QuantizationFormat, tokens: Int) throws {
        let columns = format.blockSize == 32 ? 1312 : 1280, outputs = 37
        let weight = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 70 + UInt64(format.rawValue))
        let x = Self.activations(rows: tokens, columns: columns, seed: 71)
        let vnni = try Self.product(weight, x, rows: tokens, tier: .avx512VNNI)
        let amx = try Self.product(weight, x, rows: tokens, tier: .amxInt8)
        for i in 0..<vnni.count {
            #expect(amx[i].bitPattern == vnni[i].bitPattern, "\(format.name) \(tokens) tokens, output \(i): \(amx[i]) vs \(vnni[i])")
        }
        let routed: [Int32] = (0..<tokens + 3).map { Int32(($0 * 7 + 3) % tokens) }
        let activations = try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try QuantizedActivations(quantizing: xs.baseAddress!, rows: tokens, columns: columns, for: format)
        }
        var byTier: [[Float]] = []
        for tier in [QuantizedKernelTier.avx512VNNI, .amxInt8] {
            var y = [Float](repeating: .nan, count: routed.count * outputs)
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMM(weight: weight, activations: activations, tokenRows: routed, y: ys.baseAddress!, tier: tier)
            }
            byTier.append(y)
        }
        for i in 0..<byTier[0].count {
            #expect(byTier[1][i].bitPattern == byTier[0][i].bitPattern, "\(format.name) routed, output \(i): \(byTier[1][i]) vs \(byTier[0][i])")
        }
    }

    /// 6656 columns: prefill products cut rows longer than 6144 values into 4096-value passes.
    @Test(arguments: formats, [(512, QuantizedKernelTier.scalar), (512, .selected), (6656, .scalar), (6656, .selected)])
    func productMatchesDequantizedProduct(format: QuantizationFormat, setup: (columns: Int, tier: QuantizedKernelTier)) throws {
        // 11 tokens: the selected tier runs the panels of 16 rows.
        let columns = setup.columns, outputs = 19, tokens = 11
        let weight = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 100 + UInt64(format.rawValue))
        let x = Self.activations(rows: tokens, columns: columns, seed: 9)
        var bias = (0..<outputs).map { Float($0) * 0.25 - 2 }
        var y = [Float](repeating: .nan, count: tokens * outputs)
        try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try bias.withUnsafeMutableBufferPointer { bs throws(TensorError) in
                    try quantizedGEMM(weight: weight, x: xs.baseAddress!, rows: tokens, y: ys.baseAddress!, bias: bs.baseAddress!, tier: setup.tier)
                }
            }
        }
        let block = format.blockSize == 32 ? 32 : 256
        var worstRatio = 0.0
        for r in 0..<outputs {
            let w = weight.dequantizedRow(r)!
            for t in 0..<tokens {
                var exact = Double(bias[r]), bound = 0.0
                for b in stride(from: 0, to: columns, by: block) {
                    let amax = (b..<b + block).map { abs(Double(x[t * columns + $0])) }.max()!
                    let step = amax / 127
                    for k in b..<b + block {
                        exact += Double(w[k]) * Double(x[t * columns + k])
                        bound += abs(Double(w[k])) * step * 0.57 + abs(Double(w[k]) * Double(x[t * columns + k])) * 1e-5
                    }
                }
                let error = abs(Double(y[t * outputs + r]) - exact)
                #expect(error <= bound + 1e-6, "\(format.name) \(setup) token \(t) row \(r): \(y[t * outputs + r]) vs \(exact) (bound \(bound))")
                if bound > 0 { worstRatio = max(worstRatio, error / bound) }
            }
        }
        // The bound is loose but not vacuous: the quantization error uses a real part of it.
        #expect(worstRatio > 0.02, "\(format.name): error/bound \(worstRatio)")
    }

    @Test(arguments: [QuantizationFormat.q4_0, .q4_K])
    func expertSliceAndTokenSubsetMatchFullProduct(format: QuantizationFormat) throws {
        // Both products take the panel path (≥ 8 tokens), whose per-lane arithmetic does not depend
        // on which rows share a panel or which tokens a register tile: the results are identical.
        let columns = 512, outputs = 40, tokens = 12
        let weight = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 7)
        let x = Self.activations(rows: tokens, columns: columns, seed: 11)
        let full = try Self.product(weight, x, rows: tokens, tier: nil)
        let activations = try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try QuantizedActivations(quantizing: xs.baseAddress!, rows: tokens, columns: columns, for: format)
        }
        let expertRows = 8..<18, routed: [Int32] = [6, 0, 3, 8, 5, 11, 2, 10, 7]
        var y = [Float](repeating: .nan, count: routed.count * 10)
        try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
            try quantizedGEMM(weight: weight, rows: expertRows, activations: activations, tokenRows: routed, y: ys.baseAddress!, ldy: 10)
        }
        for (i, token) in routed.enumerated() {
            for (j, r) in expertRows.enumerated() {
                #expect(y[i * 10 + j] == full[Int(token) * outputs + r])
            }
        }
        #expect(throws: TensorError.self) {
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMM(weight: weight, activations: activations, tokenRows: [12], y: ys.baseAddress!)
            }
        }
    }

    @Test(arguments: formats)
    func gatedProductIsActivationOfGateTimesUp(format: QuantizationFormat) throws {
        let columns = 512, outputs = 150
        let gate = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 21)
        let up = try Self.randomMatrix(format, rows: outputs, columns: columns, seed: 22)
        let x = Self.activations(rows: 1, columns: columns, seed: 23).map { $0 * 30 }
        let g = try Self.product(gate, x, rows: 1, tier: nil), u = try Self.product(up, x, rows: 1, tier: nil)
        for activation in [GatedActivation.silu, .gelu(.tanh)] {
            var y = [Float](repeating: .nan, count: outputs)
            try x.withUnsafeBufferPointer { xs throws(TensorError) in
                try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                    try quantizedGatedGEMV(gate: gate, up: up, x: xs.baseAddress!, activation: activation, y: ys.baseAddress!)
                }
            }
            for r in 0..<outputs {
                let v = Double(g[r])
                let act = switch activation {
                case .silu: v / (1 + exp(-v))
                default: 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))
                }
                let expected = act * Double(u[r])
                #expect(abs(Double(y[r]) - expected) <= 1e-5 * max(1, abs(expected)), "\(format.name) \(activation) row \(r)")
            }
        }
    }

    /// Decode chunks: large regions taper down to 256 KB (or four rows); small regions in one to
    /// four equal chunks per worker that cover the rows, so the cores finish together.
    @Test func decodeChunksTaperInLargeRegionsAndAreEvenInSmallOnes() {
        // Gemma-2B Q4_0 shapes on two workers: o_proj 2048 rows of 1152 bytes, two chunks of 1024.
        #expect(decodeRowChunk(rowBytes: 1152, rows: 2048, workers: 2) == 1024)
        // q/k/v, 2560 rows: two chunks of 1280.
        #expect(decodeRowChunk(rowBytes: 1152, rows: 2560, workers: 2) == 1280)
        // Large regions (≥ eight 1 MB chunks per worker) taper to 256 KB: gate + up rows
        // (2 × 1152 bytes), the vocabulary.
        #expect(decodeRowChunk(rowBytes: 2304, rows: 16384, workers: 2) == (1 << 18) / 2304)
        #expect(decodeRowChunk(rowBytes: 1680, rows: 256_000, workers: 2) == (1 << 18) / 1680)
        // Huge rows: never below four rows. Tiny regions (< 2 × 256 KB) stay one chunk.
        #expect(decodeRowChunk(rowBytes: 1 << 22, rows: 1000, workers: 2) == 4)
        #expect(decodeRowChunk(rowBytes: 144, rows: 64, workers: 2) >= 64)
        #expect(decodeRowChunk(rowBytes: 1152, rows: 300, workers: 2) >= 300 / 2 + 1)
        for workers in 1...4 {
            for rows in [1, 7, 100, 2048, 2560, 5000, 20000] {
                let chunk = decodeRowChunk(rowBytes: 1152, rows: rows, workers: workers)
                #expect(chunk >= 1)
                let chunks = (rows + chunk - 1) / chunk
                if rows < 8 * workers * ((1 << 20) / 1152) {
                    #expect(chunks % workers == 0 || chunks < workers, "rows \(rows) workers \(workers) chunks \(chunks)")
                    #expect(chunks <= 4 * workers)
                }
            }
        }
    }

    @Test func mismatchedAndUnsupportedInputsThrow() throws {
        let weight = try Self.randomMatrix(.q4_K, rows: 4, columns: 256, seed: 1)
        let x = [Float](repeating: 1, count: 512)
        var y = [Float](repeating: 0, count: 8)
        let q8Activations = try x.withUnsafeBufferPointer { xs throws(TensorError) in
            try QuantizedActivations(quantizing: xs.baseAddress!, rows: 1, columns: 256, for: .q8_0)
        }
        #expect(throws: TensorError.self) {
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMM(weight: weight, activations: q8Activations, y: ys.baseAddress!)
            }
        }
        #expect(throws: TensorError.self) {
            try x.withUnsafeBufferPointer { xs throws(TensorError) in
                _ = try QuantizedActivations(quantizing: xs.baseAddress!, rows: 1, columns: 256, for: .q5_K)
            }
        }
        #expect(throws: TensorError.self) {
            try y.withUnsafeMutableBufferPointer { ys throws(TensorError) in
                try quantizedGEMM(weight: weight, rows: 2..<5, activations: try x.withUnsafeBufferPointer { xs throws(TensorError) in
                    try QuantizedActivations(quantizing: xs.baseAddress!, rows: 1, columns: 256, for: .q4_K)
                }, y: ys.baseAddress!)
            }
        }
        #expect(QuantizedKernelTier.scalar.isAvailable)
        #expect(QuantizedKernelTier.selected.isAvailable)
    }
}
