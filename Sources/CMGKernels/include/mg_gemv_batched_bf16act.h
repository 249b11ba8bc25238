#ifndef MG_GEMV_BATCHED_BF16ACT_H
#define MG_GEMV_BATCHED_BF16ACT_H
#include "mg_common.h"

/// y[b, r] = dot(w[r, :], x[b, :]) (+ bias[r]) for `batch` bf16 input rows (already rounded from F32)
/// and `rows` rows of a BF16 weight [rows, cols], F32 accumulation: the bf16-activation form of
/// mg_gemv_bf16_batch (a batched decode step of a model run in bf16 activations). At the
/// avx512bf16 tier and above one `vdpbf16ps` multiplies 32 weights by 32 activations, half the
/// instructions of widening the weights for F32 FMAs; below it a portable loop computes the same
/// products (each bf16 × bf16 product is exact in F32; only the summation order differs).
/// `x` is [batch, cols], `y` is [batch, ldy] (the first `rows` columns written); `bias` may be NULL.
void mg_gemv_bf16_batch_bf16act(const uint16_t *w, const uint16_t *x, const float *bias, float *y, size_t ldy,
                                size_t rows, size_t cols, size_t batch);

#endif
