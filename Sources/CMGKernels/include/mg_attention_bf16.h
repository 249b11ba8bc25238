#ifndef MG_ATTENTION_BF16_H
#define MG_ATTENTION_BF16_H
#include "mg_common.h"

/// Bytes of scratch mg_attention_bf16_head needs for `tokens` positions of depth `depth`.
size_t mg_attention_bf16_scratch_bytes(size_t tokens, size_t depth);

/// One head of non-causal self-attention in the bf16 mode: out = softmax(scale · Q·Kᵀ) · V with
/// Q, K and V rounded to bf16 (round to nearest even), both products on `vdpbf16ps` with F32
/// accumulation, the softmax in F32 and its unnormalised probabilities rounded to bf16 for the
/// second product (the normalisation, by the F32 sum, is applied to the F32 output rows).
///
/// q, k, v: row t of the head at `q + t * ld_in` (depth floats each; e.g. column ranges of a packed
/// [T, 3C] q/k/v projection); out: row t written at `out + t * ld_out` (depth floats). `scratch` is
/// at least mg_attention_bf16_scratch_bytes(tokens, depth) bytes, 64-byte aligned.
/// Returns 1 when it ran, 0 when the active tier (mg_kernel_tier) has no `vdpbf16ps` (nothing is
/// written; the caller falls back to its F32 path).
int mg_attention_bf16_head(const float *q, const float *k, const float *v, size_t ld_in, float *out, size_t ld_out,
                           size_t tokens, size_t depth, float scale, void *scratch);

#endif
