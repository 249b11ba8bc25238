import CMGKernels
import Synchronization

/// The activation of a gated MLP, `act(gate) ⊙ up`.
public enum GatedActivation: Sendable, Hashable {
    /// SiLU (SwiGLU): Llama, Mistral, Mixtral.
    case silu
    /// GELU (GeGLU): Gemma.
    case gelu(GELUApproximation)

    /// `act(gate) ⊙ up`, element-wise (``siluGated(_:_:)`` or ``geluGated(_:_:approximation:)``).
    func gated(_ gate: Tensor, _ up: Tensor) throws(TensorError) -> Tensor {
        switch self {
        case .silu: try siluGated(gate, up)
        case .gelu(let approximation): try geluGated(gate, up, approximation: approximation)
        }
    }

    var kernel: mg_activation_kind {
        switch self {
        case .silu: MG_ACT_SILU
        case .gelu(let approximation): approximation.kernel
        }
    }
}

/// The gated MLP of Llama/Gemma-style decoders, `down(act(x · gateᵀ) ⊙ (x · upᵀ))`, with weights in
/// Hugging Face layout (`gate`, `up`: `[inner, hidden]`; `down`: `[hidden, inner]`).
///
/// Equal to ``linear(_:weights:precision:)`` on gate and up, ``siluGated(_:_:)`` or
/// ``geluGated(_:_:approximation:)``, then ``linear(_:weight:bias:precision:)`` on down, which is
/// what runs for single rows, F32/F16 weights or below the AVX-512 BF16 tier. With several rows,
/// BF16 weights and the packed kernels (AMX or AVX-512 BF16), the gate and up products of each
/// 32 × 32 block are combined as they leave the kernel and written straight into the packed operand of the down product: the `[rows, inner]` gate, up and
/// activation matrices (40 MB each for 600 Gemma-2B positions) are never materialised.
/// - Parameters:
///   - x: `[..., hidden]`, any float dtype.
///   - gate: `[inner, hidden]`.
///   - up: `[inner, hidden]`.
///   - down: `[hidden, inner]`.
///   - activation: applied to the gate product before the element-wise product with up.
///   - precision: as for ``linear(_:weight:bias:precision:)``; `.bfloat16Activations` also rounds
///     the activation product to bf16 before the down projection (what a BF16 model computes).
/// - Returns: `[..., hidden]` in F32.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the weight shapes do not chain or
///   `x`'s last axis is not `hidden`; otherwise as ``linear(_:weight:bias:)``.
public func gatedMLP(
    _ x: Tensor, gate: Tensor, up: Tensor, down: Tensor, activation: GatedActivation,
    precision: LinearPrecision = .float32
) throws(TensorError) -> Tensor {
    guard gate.rank == 2, up.shape == gate.shape, down.shape == [gate.shape[1], gate.shape[0]] else {
        throw .shapeMismatch(operation: "gatedMLP", gate.shape, down.shape)
    }
    let hidden = gate.shape[1], inner = gate.shape[0]
    guard x.rank >= 1, x.shape[x.rank - 1] == hidden else { throw .shapeMismatch(operation: "gatedMLP", x.shape, gate.shape) }
    let rows = x.count / max(1, hidden)
    let block = Int(MG_AMX_BLOCK)
    // The fused kernel holds a whole 32-column block's k in its 1 MB weight buffer: hidden ≤ 8192.
    if rows > 1, hidden <= 8192, inner % block == 0, inner > 0, x.dtype.isFloatingPointCompute,
        let tier = MatrixKernels.packedBF16Tier,
        [gate, up, down].allSatisfy({ packedBF16Tier(weight: $0, kernel: .automatic) != nil }),
        let result = try fusedGatedMLP(
            x, gate: gate, up: up, down: down, activation: activation, precision: precision, tier: tier)
    {
        return result
    }
    let projected = try linear(x, weights: [gate, up], precision: precision)
    return try linear(activation.gated(projected[0], projected[1]), weight: down, precision: precision)
}

/// The packed-kernel path of ``gatedMLP(_:gate:up:down:activation:precision:)`` at `tier` (AMX or
/// AVX-512 BF16), or nil when a kernel declined (nothing is returned half-done; the caller
/// recomputes on the general path).
func fusedGatedMLP(
    _ x: Tensor, gate: Tensor, up: Tensor, down: Tensor, activation: GatedActivation, precision: LinearPrecision,
    tier: KernelTier
) throws(TensorError) -> Tensor? {
    let hidden = gate.shape[1], inner = gate.shape[0]
    let input = try x.asFloat32()
    let leading = Array(x.shape.dropLast())
    let rows = leading.reduce(1, *)
    try checkBLASDimensions([rows, inner, hidden], operation: "gatedMLP")
    let passes: Int32 = precision == .bfloat16Activations ? 1 : 2
    let tierCode = Int32(tier.rawValue)
    let block = Int(MG_AMX_BLOCK)
    let rowBlocks = (rows + block - 1) / block
    let result = Tensor(uninitializedShape: leading + [hidden])
    let y = result.storage.mutableBase.assumingMemoryBound(to: Float.self)
    let weights = (
        gate.storage.base.assumingMemoryBound(to: UInt16.self), up.storage.base.assumingMemoryBound(to: UInt16.self),
        down.storage.base.assumingMemoryBound(to: UInt16.self)
    )
    let failures = Atomic<Int>(0)
    let productCount = mg_amx_packed_x_count(rows, inner) / (passes == 1 ? 2 : 1)
    input.withUnsafeFloats { xBuffer in
        withPackedActivations(x: xBuffer.baseAddress!, rows: rows, k: hidden, passes: passes, tier: tier) { packedX in
            PackingScratch.withBuffer(byteCount: productCount * MemoryLayout<UInt16>.stride) { raw in
                let packedProduct = raw.bindMemory(to: UInt16.self, capacity: productCount)
                let pointers = UncheckedSendable((packedX, packedProduct, weights, y))
                // A column block of the product is two rows × hidden × 32 products per pass.
                let minimum = max(1, (1 << 22) / (rowBlocks * block * hidden * block * 2))
                Parallel.forEachChunk(count: inner / block, minimumChunk: minimum) { range in
                    let (packedX, packedProduct, weights, _) = pointers.value
                    let status = mg_bf16_gated(
                        tierCode, packedX, rows, hidden, weights.0, weights.1, inner, range.lowerBound, range.upperBound, passes,
                        Int32(activation.kernel.rawValue), packedProduct, passes)
                    if status != 0 { failures.add(1, ordering: .relaxed) }
                }
                guard failures.load(ordering: .relaxed) == 0 else { return }
                let downBlocks = (hidden + block - 1) / block
                let downMinimum = max(1, (1 << 22) / (rowBlocks * block * inner * block))
                Parallel.forEachChunk(count: downBlocks, minimumChunk: downMinimum) { range in
                    let (_, packedProduct, weights, y) = pointers.value
                    let status = mg_bf16_gemm_passes(
                        tierCode, packedProduct, rows, inner, weights.2, hidden, range.lowerBound, range.upperBound, y, hidden, 0,
                        passes)
                    if status != 0 { failures.add(1, ordering: .relaxed) }
                }
            }
        }
    }
    withExtendedLifetime((gate, up, down)) {}
    return failures.load(ordering: .relaxed) == 0 ? result : nil
}
