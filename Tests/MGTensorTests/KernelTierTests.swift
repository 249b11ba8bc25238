import Foundation
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
