#ifndef MG_GEMM_BF16_H
#define MG_GEMM_BF16_H
#include "mg_common.h"

// Tier-dispatched BF16-weight products: the AMX tile kernels (mg_gemm_amx.h) on MG_TIER_AMX, the
// AVX-512-BF16 kernels (vdpbf16ps, same packed layouts and arithmetic) on MG_TIER_AVX512BF16.
// `tier` is the caller's choice (normally mg_kernel_tier(), see mg_cpu_tier.h); a tier the CPU
// cannot run, or one below MG_TIER_AVX512BF16, makes the products return -1 (use the conversion path).
// Arithmetic is the same at both tiers: hi/lo split activations (passes 2, F32-level results) or
// activations rounded once (passes 1), exact bf16 weights, F32 accumulation; only the summation
// order differs.

/// Packs row blocks [block_begin, block_end) of x for `passes` (1: mg_amx_pack_x_rounded layout,
/// 2: mg_amx_pack_x layout), vectorised at the AMX and AVX-512-BF16 tiers, portable otherwise.
void mg_bf16_pack_x(int tier, const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin,
                    size_t block_end, uint16_t *packed, int passes);

/// mg_amx_gemm_bf16_passes at `tier` (same arguments, result and failure cases).
int mg_bf16_gemm_passes(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                        size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                        int passes);

/// mg_amx_gated_bf16 at `tier` (same arguments, result and failure cases).
int mg_bf16_gated(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                  size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                  uint16_t *packed_out, int out_passes);

/// 1 when `tier` has a packed BF16 product on this CPU (AMX or AVX-512-BF16 and not above the
/// detected tier), else 0.
int mg_bf16_tier_supported(int tier);

#endif
