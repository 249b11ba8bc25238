import CMGKernels
import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// The run-time kernel tier: detection, the `MG_MAX_ISA` cap, and which BF16 path products take.
@Suite struct KernelTierTests {
    /// The active tier is the detected one lowered to `MG_MAX_ISA` (ignored when not a tier name).
    @Test func activeTierHonoursTheCap() {
        let cap = ProcessInfo.processInfo.environment["MG_MAX_ISA"].flatMap { name in
            KernelTier.allCases.first { $0.description == name.lowercased() }
        }
        #expect(KernelTier.active == min(KernelTier.detected, cap ?? .amx))
        #expect(KernelTier.supported.last == KernelTier.detected)
        #expect(KernelTier.supported.first == .baseline)
    }

    /// Names round-trip the spelling `MG_MAX_ISA` takes.
    @Test func namesMatchTheEnvironmentSpelling() {
        #expect(KernelTier.allCases.map(\.description) == ["baseline", "avx2", "avx512", "avx512bf16", "amx"])
    }

    /// Multi-row BF16 products take the packed kernels exactly at the AMX and AVX-512 BF16 tiers, and
    /// AMX only where the hardware grants it.
    @Test func packedTierFollowsTheActiveTier() {
        let tier = MatrixKernels.packedBF16Tier
        switch KernelTier.active {
        case .amx: #expect(tier == .amx || (tier == .avx512BF16 && !MatrixKernels.usesAMX))
        case .avx512BF16: #expect(tier == .avx512BF16)
        default: #expect(tier == nil)
        }
        if !MatrixKernels.amxAvailable { #expect(!MatrixKernels.usesAMX) }
    }
}

/// The decode GEMV at every tier this machine runs, in one process, against Float64.
@Suite struct GEMVTierTests {
    /// Rows not a multiple of 4 or 8, columns not a multiple of 32, a bias; at ≤ 4096 columns and
    /// above (the AVX-512 kernel interleaves 4 or 8 row segments). Relative error ≤ 1e-5 of Σ|x·w|
    /// per row at every tier.
    @Test(arguments: KernelTier.supported, [(37, 2085), (21, 4130)])
    func gemvMatchesFloat64(tier: KernelTier, shape: (Int, Int)) throws {
        let (rows, cols) = shape
        let w = try DeterministicData.tensor(seed: 1600, shape: [rows, cols]).converted(to: .bf16)
        let x = try DeterministicData.tensor(seed: 1601, shape: [cols]).floats()
        let bias = try DeterministicData.tensor(seed: 1602, shape: [rows]).floats()
        let weights = w.floats()
        var y = [Float](repeating: .nan, count: rows)
        w.withUnsafeBytes { raw in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: UInt16.self)
            mg_gemv_bf16_at(Int32(tier.rawValue), pointer, x, bias, &y, rows, cols)
        }
        for r in 0..<rows {
            var sum = Double(bias[r]), magnitude = abs(Double(bias[r]))
            for i in 0..<cols {
                let term = Double(x[i]) * Double(weights[r * cols + i])
                sum += term
                magnitude += abs(term)
            }
            #expect(abs(Double(y[r]) - sum) <= 1e-5 * magnitude, "\(tier) row \(r): \(y[r]) vs \(sum)")
        }
    }

    /// A row's output is bit for bit the same whichever rows share its call: the whole matrix in one
    /// call (rows interleaved in segments), any split of the rows (what the parallel chunks of
    /// `linear` pass), and each row alone. The decode step's outputs then do not depend on the
    /// thread count or the chunking.
    @Test(arguments: KernelTier.supported, [(45, 2085), (27, 4130)])
    func rowsDoNotDependOnTheirGrouping(tier: KernelTier, shape: (Int, Int)) throws {
        let (rows, cols) = shape
        let w = try DeterministicData.tensor(seed: 1603, shape: [rows, cols]).converted(to: .bf16)
        let x = try DeterministicData.tensor(seed: 1604, shape: [cols]).floats()
        let bias = try DeterministicData.tensor(seed: 1605, shape: [rows]).floats()
        var whole = [Float](repeating: .nan, count: rows), split = whole, single = whole
        w.withUnsafeBytes { raw in
            let pointer = raw.baseAddress!.assumingMemoryBound(to: UInt16.self)
            mg_gemv_bf16_at(Int32(tier.rawValue), pointer, x, bias, &whole, rows, cols)
            var start = 0
            for count in [13, 1, 8, 20, 3] where start < rows {
                let end = min(rows, start + count)
                split.withUnsafeMutableBufferPointer { y in
                    bias.withUnsafeBufferPointer { b in
                        mg_gemv_bf16_at(
                            Int32(tier.rawValue), pointer + start * cols, x, b.baseAddress! + start, y.baseAddress! + start,
                            end - start, cols)
                    }
                }
                start = end
            }
            for r in 0..<rows {
                single.withUnsafeMutableBufferPointer { y in
                    bias.withUnsafeBufferPointer { b in
                        mg_gemv_bf16_at(Int32(tier.rawValue), pointer + r * cols, x, b.baseAddress! + r, y.baseAddress! + r, 1, cols)
                    }
                }
            }
        }
        #expect(whole.allSatisfy { $0.isFinite })
        #expect(whole.map(\.bitPattern) == split.map(\.bitPattern), "\(tier)")
        #expect(whole.map(\.bitPattern) == single.map(\.bitPattern), "\(tier)")
    }
}
