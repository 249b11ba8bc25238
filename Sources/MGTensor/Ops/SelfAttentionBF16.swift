import CMGKernels

/// Multi-head non-causal self-attention in the bf16 mode, straight from a packed q/k/v projection.
///
/// `packedQKV` is `[N, T, 3C]`: per position the queries, keys and values of all heads, head `h`
/// at columns `h·D ..< (h+1)·D` of each third (the layout of a fused q/k/v `linear`, as in CLIP).
/// Returns `[N, T, C]`, the heads merged back (what `out_proj` reads), without the split and merge
/// permutes of ``scaledDotProductAttention(_:key:value:causal:scale:)``.
///
/// Arithmetic: queries, keys and values are rounded to bf16; the scores are F32 sums of their exact
/// products, the softmax runs in F32. At ``KernelTier/avx512BF16`` and above both products run on
/// `vdpbf16ps` and the unnormalised probabilities are rounded to bf16 for the second product
/// (PyTorch's BF16 attention does the same); below that tier the rounded q/k/v go through the F32
/// attention, so every tier agrees with a Float64 attention of the rounded operands to within the
/// probability rounding (≈ 2⁻⁹ relative per weight).
///
/// - Parameters:
///   - packedQKV: `[N, T, 3C]`, any float dtype.
///   - heads: the number of heads `H`; `C` must be a multiple of it.
///   - scale: the factor on `Q·Kᵀ` (usually `1/√D`).
/// - Returns: `[N, T, C]` in F32, head `h` at columns `h·D ..< (h+1)·D`.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for another rank, a last axis that
///   is not `3·H·D`, or no positions.
public func bf16SelfAttention(packedQKV: Tensor, heads: Int, scale: Float) throws(TensorError) -> Tensor {
    let operation = "bf16SelfAttention"
    guard packedQKV.rank == 3, heads > 0, packedQKV.shape[2] > 0, packedQKV.shape[2] % (3 * heads) == 0 else {
        throw .invalidArgument(
            operation: operation, reason: "expects [N, T, 3·H·D] with H = \(heads) heads, got \(packedQKV.shape)")
    }
    let (batch, tokens, width) = (packedQKV.shape[0], packedQKV.shape[1], packedQKV.shape[2])
    let channels = width / 3, depth = channels / heads
    guard tokens > 0 else { throw .invalidArgument(operation: operation, reason: "there are no positions to attend to") }
    if batch == 0 { return Tensor(uninitializedShape: [0, tokens, channels]) }

    guard KernelTier.active >= .avx512BF16 else {
        // Lower tiers: the same rounding of q/k/v, then the F32 attention.
        let rounded = try packedQKV.converted(to: .bf16).asFloat32()
        let split = try permute(rounded.reshaped([batch, tokens, 3, heads, depth]), [2, 0, 3, 1, 4])
        let attended = try scaledDotProductAttention(split.row(0), key: split.row(1), value: split.row(2), scale: scale)
        return try permute(attended, [0, 2, 1, 3]).reshaped([batch, tokens, channels])
    }

    let qkv = try packedQKV.asFloat32()
    var result = Tensor(uninitializedShape: [batch, tokens, channels])
    let scratchBytes = mg_attention_bf16_scratch_bytes(tokens, depth)
    var ran = true
    qkv.withUnsafeFloats { input in
        result.withUnsafeMutableFloats { output in
            let pointers = UncheckedSendable((input.baseAddress!, output.baseAddress!))
            let flags = UncheckedSendable(UnsafeMutablePointer<Int32>.allocate(capacity: batch * heads))
            defer { flags.value.deallocate() }
            // One (image, head) per task: 16 heads of 577 positions share out evenly on 2–16 threads.
            Parallel.forEachChunk(count: batch * heads, minimumChunk: 1) { range in
                let (input, output) = pointers.value
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
                defer { scratch.deallocate() }
                for task in range {
                    let image = task / heads, head = task % heads
                    let rows = input + image * tokens * width + head * depth
                    flags.value[task] = mg_attention_bf16_head(
                        rows, rows + channels, rows + 2 * channels, width,
                        output + image * tokens * channels + head * depth, channels, tokens, depth, scale, scratch)
                }
            }
            ran = (0..<batch * heads).allSatisfy { flags.value[$0] == 1 }
        }
    }
    // The kernel declines only below the avx512bf16 tier, which was checked above.
    guard ran else { throw .invalidArgument(operation: operation, reason: "the bf16 attention kernel did not run at tier \(KernelTier.active)") }
    return result
}
