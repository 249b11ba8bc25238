import CMGKernels
import Foundation
import Logging

/// The instruction-set tier of MGTensor's own kernels (BF16-weight GEMM, fused gated MLP, decode
/// GEMV), chosen once per process from CPUID and XGETBV.
///
/// Each tier needs everything below it. The active tier is the highest one the CPU and operating
/// system support, lowered by the environment variable `MG_MAX_ISA` (`amx`, `avx512bf16`, `avx512`,
/// `avx2`, `baseline`), read once at first use, so tests and benchmarks can run the lower tiers on
/// any machine. Multi-row products with BF16 weights run on the packed kernels at ``amx`` and
/// ``avx512BF16`` and widen the weights for OpenBLAS `sgemm` below; the auto-vectorised element-wise
/// loops choose their own code from the CPU's features and ignore the cap.
public enum KernelTier: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Portable C, any CPU.
    case baseline = 0
    /// AVX2 + FMA + F16C (x86-64-v3).
    case avx2 = 1
    /// AVX-512 F/BW/VL/DQ (x86-64-v4).
    case avx512 = 2
    /// AVX-512 plus the BF16 dot product `vdpbf16ps` (AMD Zen 4/5, Intel Cooper Lake and later).
    case avx512BF16 = 3
    /// Intel AMX BF16 tiles, granted by the operating system (Sapphire Rapids and later).
    case amx = 4

    /// The tier the kernels run at: ``detected`` capped by `MG_MAX_ISA`. Logged once, at first use
    /// (debug level, logger `MiniGemini.MGTensor`); MGPipeline reads it when a model is assembled.
    public static var active: KernelTier { announced }

    /// The highest tier this CPU and operating system support, ignoring `MG_MAX_ISA`.
    public static var detected: KernelTier { KernelTier(rawValue: Int(mg_kernel_tier_detected())) ?? .baseline }

    /// The tiers this machine can run, lowest first (every tier up to ``detected``).
    public static var supported: [KernelTier] { allCases.filter { $0 <= detected } }

    /// The tier's name as `MG_MAX_ISA` spells it (e.g. `avx512bf16`).
    public var description: String { String(cString: mg_kernel_tier_name(Int32(rawValue))) }

    public static func < (lhs: KernelTier, rhs: KernelTier) -> Bool { lhs.rawValue < rhs.rawValue }

    private static let announced: KernelTier = {
        let tier = KernelTier(rawValue: Int(mg_kernel_tier())) ?? .baseline
        let cap = ProcessInfo.processInfo.environment["MG_MAX_ISA"] ?? "unset"
        let note = mg_kernel_tier_cap_invalid() != 0 ? " (ignored: not a tier name)" : ""
        Logger(label: "MiniGemini.MGTensor").debug(
            "kernel tier", metadata: ["tier": "\(tier)", "detected": "\(detected)", "MG_MAX_ISA": "\(cap)\(note)"])
        return tier
    }()
}
