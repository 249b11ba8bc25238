#ifndef MG_GEMM_AMX_H
#define MG_GEMM_AMX_H
#include "mg_common.h"

// y[M, N] (+)= x[M, K] · w[N, K]ᵀ with bf16 weights on Intel AMX tiles, at F32-level accuracy: each
// F32 activation is split into hi = bf16(x) and lo = bf16(x − hi) (|x − hi − lo| ≤ 2^-17 |x|),
// and both halves are multiplied by the exact bf16 weights with F32 accumulation.
//
// Use: check mg_amx_bf16_available() once; pack the activations with mg_amx_pack_x (in parallel
// over row blocks if wanted), then call mg_amx_gemm_bf16 on disjoint column-block ranges, one call
// per thread. K must be a multiple of MG_AMX_K_STEP.

/// Rows of activations per packed block and columns of output per weight block.
#define MG_AMX_BLOCK 32
/// K granularity of the packed layouts.
#define MG_AMX_K_STEP 32

/// 1 when this CPU has AMX-BF16 and the kernel granted this process the tile-data state (Linux
/// arch_prctl permission, requested once). 0 otherwise, including on non-x86-64 builds.
int mg_amx_bf16_available(void);

/// Number of uint16 elements of the packed activations for `rows` × `k` (k a multiple of 32).
size_t mg_amx_packed_x_count(size_t rows, size_t k);

/// Packs the row blocks [block_begin, block_end) (32 rows each) of the row-major F32 `x`
/// (`rows` × `k`, row stride `ldx`) into `packed` as hi/lo bf16 tiles; rows past `rows` are zero.
void mg_amx_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                   uint16_t *packed);

/// Output columns [column_block_begin · 32, min(n, column_block_end · 32)) of
/// y (`rows` × `n`, row stride `ldy`) for the row-major bf16 weight `w` (`n` × `k`, dense):
/// y = x · wᵀ when `accumulate` is 0, y += x · wᵀ otherwise (e.g. y pre-filled with a bias).
/// Returns 0 on success, or -1 with y untouched when AMX is unavailable, k is not a multiple of 32
/// or the 132 KB of scratch memory could not be allocated.
int mg_amx_gemm_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                     size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate);

#endif
