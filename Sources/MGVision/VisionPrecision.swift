import MGTensor

/// The arithmetic of the vision towers' matrix products.
///
/// The default, ``float32``, is the parity path: every product at F32 accuracy (OpenBLAS `sgemm`,
/// or the split-bf16 AMX product on AMX machines), as the reference runs the towers on CPU.
/// ``bfloat16`` is opt-in and mirrors the official code, which runs the towers in half precision
/// on a GPU: the linear layers' weights are held in bf16 and their activations are rounded to bf16
/// once per product, with F32 accumulation; CLIP's attention rounds its queries, keys, values and
/// (at the `vdpbf16ps` tiers) its probabilities to bf16 too (``/MGTensor/bf16SelfAttention(packedQKV:heads:scale:)``).
/// LayerNorm, GELU, the softmax, the convolutions and the residual stream stay in F32.
public enum VisionPrecision: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// F32-accurate products (default).
    case float32 = "f32"
    /// bf16 weights and bf16-rounded activations in the linear layers (CLIP's q/k/v, out, fc1, fc2;
    /// ConvNeXt's fc1, fc2) and in CLIP's attention products. On the packed BF16 kernels (AVX-512 BF16 `vdpbf16ps`, AMX) this is half
    /// the work of ``float32``; below those tiers the bf16 weights are widened for `sgemm` and only
    /// the weight rounding differs from ``float32``, which is then the faster choice (the widening
    /// made CLIP 22 % and ConvNeXt-L 13 % slower than ``float32`` at the AVX-512F cap). Weights stored in F32 or F16 get a bf16 copy at
    /// load (half the size of an F32 checkpoint); BF16 weights stay memory-mapped.
    ///
    /// Measured error against ``float32`` (max |Δ| / max |F32|, Documentation/Benchmarks.md): 4.6e-3
    /// on CLIP ViT-L/14-336's selected hidden state (with its bf16 attention) and 1.2e-3 on ConvNeXt-L's fused map at 768
    /// (random weights); ≤ 5.3e-3 on the tiny tower goldens and ≤ 5.0e-3 on the visual tokens of the
    /// tiny end-to-end checkpoints, whose greedy answers agree on 212 of 216 leading tokens (one
    /// 8x7B case parts at token 20 of 24).
    case bfloat16 = "bf16"

    public var description: String { rawValue }

    /// The matching arithmetic of ``/MGTensor/linear(_:weight:bias:precision:)``.
    var linearPrecision: LinearPrecision {
        switch self {
        case .float32: .float32
        case .bfloat16: .bfloat16Activations
        }
    }

    /// `weight` as the products of this precision read it: unchanged for ``float32`` and for BF16
    /// weights, a bf16 copy otherwise.
    func productWeight(_ weight: Tensor) throws(VisionError) -> Tensor {
        guard self == .bfloat16, weight.dtype != .bf16 else { return weight }
        return try tensorOp(VisionError.tensor) { () throws(TensorError) in try weight.converted(to: .bf16) }
    }
}
