#ifndef MG_GEMV_BATCHED_H
#define MG_GEMV_BATCHED_H
#include "mg_common.h"

/// y[b, r] = dot(w[r, :], x[b, :]) (+ bias[r]) for `batch` input rows and `rows` rows of a
/// row-major bf16 matrix with `cols` columns: each weight is widened once and used for every input
/// row, so a decode step of `batch` sequences streams the weights once. `x` is [batch, cols], `y`
/// is [batch, ldy] (the first `rows` columns written); `bias` may be NULL.
void mg_gemv_bf16_batch(const uint16_t *w, const float *x, const float *bias, float *y, size_t ldy,
                        size_t rows, size_t cols, size_t batch);
/// As mg_gemv_bf16_batch, for IEEE half weights.
void mg_gemv_f16_batch(const uint16_t *w, const float *x, const float *bias, float *y, size_t ldy,
                       size_t rows, size_t cols, size_t batch);

#endif
