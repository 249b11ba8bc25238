#ifndef MG_GEMV_H
#define MG_GEMV_H
#include "mg_common.h"

/// y[r] = dot(w[r, :], x) (+ bias[r]) for `rows` rows of a row-major bf16 matrix with `cols`
/// columns; the weights are widened on the fly, so they are streamed once. `bias` may be NULL.
void mg_gemv_bf16(const uint16_t *w, const float *x, const float *bias, float *y, size_t rows, size_t cols);
/// mg_gemv_bf16 at a given kernel tier (mg_cpu_tier.h; lowered to what the CPU has), for tests
/// that compare every tier in one process. mg_gemv_bf16 is this at mg_kernel_tier().
void mg_gemv_bf16_at(int tier, const uint16_t *w, const float *x, const float *bias, float *y, size_t rows,
                     size_t cols);
/// As mg_gemv_bf16, for IEEE half weights.
void mg_gemv_f16(const uint16_t *w, const float *x, const float *bias, float *y, size_t rows, size_t cols);

/// Copies `bias` (length `cols`) into each of `rows` rows of `out` (row stride `ld`).
void mg_fill_rows(const float *bias, float *out, size_t rows, size_t cols, size_t ld);

/// Unnormalised, numerically stable softmax of attention scores given in log2 units
/// (scale · log2(e) · q·k): each of `rows` rows (stride `ld`, `cols` columns) becomes
/// 2^(s − max) over its first `valid(r)` entries and 0 after them, and `inverse_sums[r]` receives
/// 1 / Σ, to be applied to the row's output. Without `causal`, valid(r) = cols. With it, row r is
/// query position t = (first_row + r) % tq and valid(r) = min(cols, t + key_offset + 1): each
/// query sees the keys up to its own position when the queries are the last tq of the keys
/// (key_offset = keys − tq).
void mg_attention_softmax(float *scores, size_t rows, size_t cols, size_t ld, int causal,
                          size_t first_row, size_t tq, size_t key_offset, float *inverse_sums);

/// Multiplies row r of `out` (`rows` × `cols`, stride `ld`) by scales[r].
void mg_scale_rows(float *out, size_t rows, size_t cols, size_t ld, const float *scales);

/// Re-selects OpenBLAS's kernels when its CPU detection fell back to the generic "Prescott" core
/// on a CPU with AVX-512 (→ SkylakeX) or AVX2 (→ Haswell). Call once, before the first BLAS call,
/// while no other thread uses BLAS. Does nothing if OPENBLAS_CORETYPE is set, the detected core is
/// not Prescott, or the library is not a dynamic-arch OpenBLAS. Returns 1 when it switched.
int mg_openblas_fix_coretype(void);

#endif
