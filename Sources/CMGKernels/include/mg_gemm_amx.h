#ifndef MG_GEMM_AMX_H
#define MG_GEMM_AMX_H
#include "mg_common.h"

// y[M, N] (+)= x[M, K] · w[N, K]ᵀ with bf16 weights on Intel AMX tiles. Two arithmetics:
// - two passes (F32-level accuracy): each F32 activation is split into hi = bf16(x) and
//   lo = bf16(x − hi) (|x − hi − lo| ≤ 2^-17 |x|), and both halves are multiplied by the exact bf16
//   weights with F32 accumulation;
// - one pass: activations rounded once to bf16 (as an all-bf16 framework computes), half the work.
//
// Use: check mg_amx_bf16_available() once; pack the activations with mg_amx_pack_x (two passes) or
// mg_amx_pack_x_rounded (one pass), in parallel over row blocks if wanted, then call
// mg_amx_gemm_bf16_passes on disjoint column-block ranges, one call per thread. K must be a
// multiple of MG_AMX_K_STEP. Packing converts denormal activations (|x| < 2^-126) to zero.

/// Rows of activations per packed block and columns of output per weight block.
#define MG_AMX_BLOCK 32
/// K granularity of the packed layouts.
#define MG_AMX_K_STEP 32

/// 1 when this CPU has AMX-BF16 and the kernel granted this process the tile-data state (Linux
/// arch_prctl permission, requested once). 0 otherwise, including on non-x86-64 builds.
int mg_amx_bf16_available(void);

/// 1 when mg_amx_bf16_available() and the CPU also has AMX-INT8 (the quantized prefill tier). AMX
/// CPUs so far have both; one probe and one permission request serve the two.
int mg_amx_int8_available(void);

/// Number of uint16 elements of the two-pass packed activations for `rows` × `k` (k a multiple of
/// 32); the one-pass packing uses the first half of it.
size_t mg_amx_packed_x_count(size_t rows, size_t k);

/// Packs the row blocks [block_begin, block_end) (32 rows each) of the row-major F32 `x`
/// (`rows` × `k`, row stride `ldx`) into `packed` as hi/lo bf16 tiles; rows past `rows` are zero.
void mg_amx_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                   uint16_t *packed);

/// mg_amx_pack_x for the one-pass product: only hi = bf16(x) (round to nearest even) is written, two
/// tiles per block and 32-k step instead of four (mg_amx_packed_x_count / 2 elements), i.e. the
/// activations are rounded to bf16 as an all-bf16 framework would (relative error ~2^-9 per
/// activation, ~1e-3 on outputs).
void mg_amx_pack_x_rounded(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                           uint16_t *packed);

/// Output columns [column_block_begin · 32, min(n, column_block_end · 32)) of
/// y (`rows` × `n`, row stride `ldy`) for the row-major bf16 weight `w` (`n` × `k`, dense):
/// y = x · wᵀ when `accumulate` is 0, y += x · wᵀ otherwise (e.g. y pre-filled with a bias).
/// Returns 0 on success, or -1 with y untouched when AMX is unavailable, k is not a multiple of 32
/// or the thread's 1 MB weight buffer (kept for later calls) could not be allocated.
int mg_amx_gemm_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                     size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate);

/// mg_amx_gemm_bf16 with the number of activation passes: 2 (hi and lo, F32-level accuracy) for
/// x packed by mg_amx_pack_x, or 1 (hi only, half the work) for x packed by mg_amx_pack_x_rounded.
int mg_amx_gemm_bf16_passes(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                            size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                            int passes);

/// The first half of a gated MLP: a = act(x · gateᵀ) ⊙ (x · upᵀ) for the bf16 weights `gate` and
/// `up` (both `n` × `k`, dense, n a multiple of 32), with x packed for `passes` (1 or 2) as above
/// and `activation` an mg_activation_kind (mg_pointwise.h). Columns [column_block_begin · 32,
/// column_block_end · 32) of a are written into `packed_out` as the activations of a following
/// product with reduction length n: rounded to bf16 (the mg_amx_pack_x_rounded layout) when
/// `out_passes` is 1, split hi/lo (the mg_amx_pack_x layout) when 2; `packed_out` holds
/// mg_amx_packed_x_count(rows, n) elements (half with one pass). Returns 0, or -1 with nothing
/// written when AMX is unavailable, k or n is not a multiple of 32, k > 8192 or scratch memory
/// could not be allocated.
int mg_amx_gated_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                      size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                      uint16_t *packed_out, int out_passes);

// ---- F32 × F32 on AMX (operands split into bf16 hi + lo; Ahi·Bhi + Alo·Bhi + Ahi·Blo) ----
// C[m, n] (+)= A[m, k] · B[k, n], all row-major F32, near F32 accuracy (each product term off by
// about 2^-16 at most; relative errors ~1e-6 on sums). A is packed once with mg_amx_pack_x (same
// layout as the activations above, A's rows in the role of x's rows); B is packed inside the call.

/// Number of uint16 elements of B packed for `column_blocks` 32-column blocks (internal scratch size).
size_t mg_amx_packed_b_count(size_t k, size_t column_blocks);

/// Columns [column_block_begin · 32, min(n, column_block_end · 32)) of C for A packed by
/// mg_amx_pack_x (`m` rows, `k` a multiple of 32) and the row-major F32 `b` (`k` × `n`, row stride
/// `ldb`). C = A·B when `accumulate` is 0, C += A·B otherwise. Returns 0, or -1 with C untouched
/// when AMX is unavailable, k is not a multiple of 32 or scratch memory could not be allocated.
int mg_amx_gemm_split(const uint16_t *packed_a, size_t m, size_t k, const float *b, size_t ldb, size_t n,
                      size_t column_block_begin, size_t column_block_end, float *c, size_t ldc, int accumulate);

#endif
