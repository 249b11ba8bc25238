import CMGKernels
import Foundation
import Synchronization

/// Run-time choice of the matrix kernels behind ``linear(_:weight:bias:)``.
///
/// A multi-row product with a BF16 weight runs on a packed BF16 kernel where the active
/// ``KernelTier`` has one: Intel AMX tiles (Sapphire Rapids and later) or the AVX-512 BF16 dot
/// product `vdpbf16ps` (AMD Zen 4/5, Intel Cooper Lake and later). Each F32 activation is split into
/// two bf16 halves (hi = bf16(x), lo = bf16(x − hi), together within 2⁻¹⁷ of x) that are multiplied
/// by the exact weights with F32 accumulation, so results stay at F32-GEMM accuracy (relative error
/// ~1e-6). Below those tiers, and for F16 weights, blocks of the weight are widened to F32 for `sgemm`.
public enum MatrixKernels {
    private static let amxAllowed = Atomic<Bool>(ProcessInfo.processInfo.environment["MG_DISABLE_AMX"] != "1")

    /// Whether this CPU and operating system let the process use AMX BF16 tiles (whatever the cap).
    public static var amxAvailable: Bool { mg_amx_bf16_available() != 0 }

    /// Whether BF16 products use AMX: true when the active ``KernelTier`` is ``KernelTier/amx``,
    /// unless the environment sets `MG_DISABLE_AMX=1` or this is set to false (they then run at
    /// ``KernelTier/avx512BF16``). Setting it affects calls that start afterwards (e.g. to compare
    /// both paths); it cannot enable AMX on a CPU without it or above the `MG_MAX_ISA` cap.
    public static var usesAMX: Bool {
        get { amxAllowed.load(ordering: .relaxed) && KernelTier.active == .amx }
        set { amxAllowed.store(newValue, ordering: .relaxed) }
    }

    private static let packedAllowed = Atomic<Bool>(true)

    /// Whether multi-row BF16 products use the packed kernels at all (true by default). Set it to
    /// false to send them through the conversion path on every tier (e.g. to compare both paths);
    /// it affects calls that start afterwards.
    public static var usesPackedBF16: Bool {
        get { packedAllowed.load(ordering: .relaxed) }
        set { packedAllowed.store(newValue, ordering: .relaxed) }
    }

    /// The tier of the packed kernels that multi-row BF16 products use, or nil when they widen the
    /// weights for `sgemm` (tiers below ``KernelTier/avx512BF16``, or ``usesPackedBF16`` off).
    public static var packedBF16Tier: KernelTier? {
        guard usesPackedBF16 else { return nil }
        if usesAMX { return .amx }
        return KernelTier.active >= .avx512BF16 ? .avx512BF16 : nil
    }
}

/// The arithmetic of multi-row products with BF16 weights (``linear(_:weight:bias:precision:)``).
public enum LinearPrecision: Sendable, Hashable {
    /// F32-level results (the default): on the packed BF16 kernels (AMX, AVX-512 BF16) each
    /// activation is split into two bf16 halves, on other CPUs the weights are widened to F32 for
    /// `sgemm`. Relative error ~1e-6 against an F32 product of the same weights.
    case float32
    /// Activations rounded once to bf16 (round to nearest even) and multiplied by the bf16 weights
    /// with F32 accumulation — what PyTorch does for a BF16 model (`F.linear` on bf16 tensors),
    /// half the work of ``float32`` on the packed kernels. Relative error ~1e-3 (2⁻⁹ per
    /// activation). Only multi-row products of BF16 weights at the AMX and AVX-512 BF16 tiers are
    /// affected (prefill, and a batched decode step of several sequences); single rows (one
    /// sequence's decode step) and every other path stay exact.
    case bfloat16Activations
}

/// How `linear` multiplies several rows by a 16-bit weight (internal, so tests can pin a path).
enum SixteenBitLinearKernel: Equatable {
    /// The packed kernels of ``MatrixKernels/packedBF16Tier`` for BF16 weights whose `in` is a
    /// multiple of 32; the conversion path otherwise.
    case automatic
    /// The packed kernels of this tier (``KernelTier/amx`` or ``KernelTier/avx512BF16``) when the
    /// machine supports it, for BF16 weights whose `in` is a multiple of 32.
    case packed(KernelTier)
    /// Widen 8 MB blocks of the weight to F32 and call `sgemm` (every CPU, F16 and BF16).
    case convertAndSGEMM
}

/// The tier of the packed kernel that would take this product under `kernel`, or nil for the
/// conversion path.
func packedBF16Tier(weight: Tensor, kernel: SixteenBitLinearKernel) -> KernelTier? {
    guard weight.dtype == .bf16, weight.rank == 2, weight.shape[1] % Int(MG_AMX_K_STEP) == 0 else { return nil }
    switch kernel {
    case .automatic: return MatrixKernels.packedBF16Tier
    case .packed(let tier): return mg_bf16_tier_supported(Int32(tier.rawValue)) != 0 ? tier : nil
    case .convertAndSGEMM: return nil
    }
}

/// `y = x · Wᵀ (+ bias)` for a BF16 `[out, in]` weight on the packed kernels of `tier` (AMX tiles or
/// AVX-512 BF16), parallel over 32-column blocks of the output. Returns false when the kernel
/// declined (tier not supported, or a scratch allocation failed); `y` may then be partly written and
/// must be recomputed by the conversion path.
func packedBF16Linear(
    weight: Tensor, x: UnsafePointer<Float>, rows: Int, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>,
    precision: LinearPrecision = .float32, tier: KernelTier
) -> Bool {
    packedBF16Linear(weights: [weight], x: x, rows: rows, biases: [bias], outputs: [y], precision: precision, tier: tier)
}

/// ``packedBF16Linear(weight:x:rows:bias:y:precision:tier:)`` for several BF16 weights `[out_i, in]` applied to
/// the same rows (e.g. a layer's q/k/v projections): the activations are packed once, and the
/// column blocks of all outputs share one parallel pass, so narrow weights (a 256-wide k or v) do
/// not each stream the whole input on their own.
func packedBF16Linear(
    weights: [Tensor], x: UnsafePointer<Float>, rows: Int, biases: [UnsafePointer<Float>?],
    outputs: [UnsafeMutablePointer<Float>], precision: LinearPrecision = .float32, tier: KernelTier
) -> Bool {
    guard let inFeatures = weights.first?.shape[1] else { return true }
    let tierCode = Int32(tier.rawValue)
    guard mg_bf16_tier_supported(tierCode) != 0, inFeatures % Int(MG_AMX_K_STEP) == 0 else { return false }
    let passes: Int32 = precision == .bfloat16Activations ? 1 : 2
    let block = Int(MG_AMX_BLOCK)
    // Column blocks of each output, and where each weight's blocks start in the combined range.
    let blockCounts = weights.map { ($0.shape[0] + block - 1) / block }
    let starts = blockCounts.reduce(into: [0]) { $0.append($0.last! + $1) }
    for (index, weight) in weights.enumerated() {
        if let bias = biases[index] { fillRows(outputs[index], rows: rows, columns: weight.shape[0], bias: bias) }
    }
    let sources = weights.map { $0.storage.base.assumingMemoryBound(to: UInt16.self) }
    let failures = Atomic<Int>(0)
    withPackedActivations(x: x, rows: rows, k: inFeatures, passes: passes, tier: tier) { packed in
        let pointers = UncheckedSendable((packed, sources, outputs))
        // One column block is rows × in × 32 multiply-adds per pass; keep tiny products on one thread.
        let rowBlocks = (rows + block - 1) / block
        let blockWork = rowBlocks * block * inFeatures * block
        Parallel.forEachChunk(count: starts.last!, minimumChunk: max(1, (1 << 22) / blockWork)) { range in
            let (packed, sources, outputs) = pointers.value
            var blockIndex = range.lowerBound
            while blockIndex < range.upperBound {
                var index = 0
                while starts[index + 1] <= blockIndex { index += 1 }
                let end = min(range.upperBound, starts[index + 1])
                let outFeatures = weights[index].shape[0]
                let status = mg_bf16_gemm_passes(
                    tierCode, packed, rows, inFeatures, sources[index], outFeatures, blockIndex - starts[index],
                    end - starts[index], outputs[index], outFeatures, biases[index] == nil ? 0 : 1, passes)
                if status != 0 { failures.add(1, ordering: .relaxed) }
                blockIndex = end
            }
        }
    }
    withExtendedLifetime(weights) {}
    return failures.load(ordering: .relaxed) == 0
}

/// Runs `body` with `x` (`rows` × `k`, dense) packed for the products of `tier`: rounded to bf16
/// when `passes` is 1, split into hi/lo halves when 2. The buffer is only valid during the call.
func withPackedActivations<R>(
    x: UnsafePointer<Float>, rows: Int, k: Int, passes: Int32, tier: KernelTier, _ body: (UnsafePointer<UInt16>) -> R
) -> R {
    let block = Int(MG_AMX_BLOCK)
    let rowBlocks = (rows + block - 1) / block
    let count = mg_amx_packed_x_count(rows, k) / (passes == 1 ? 2 : 1)
    return PackingScratch.withBuffer(byteCount: count * MemoryLayout<UInt16>.stride) { raw in
        let packed = raw.bindMemory(to: UInt16.self, capacity: count)
        let pointers = UncheckedSendable((x, packed))
        // Packing touches every activation once; worth two threads only for large inputs.
        Parallel.forEachChunk(count: rowBlocks, minimumChunk: max(1, (1 << 18) / (block * k))) { range in
            let (x, packed) = pointers.value
            mg_bf16_pack_x(Int32(tier.rawValue), x, k, rows, k, range.lowerBound, range.upperBound, packed, passes)
        }
        return body(UnsafePointer(packed))
    }
}
