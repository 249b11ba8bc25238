// The portable decode attention body, shared by the F32 cache (mg_decoder_attention, decoder.c)
// and the half cache at the baseline tier (decoder_f16.c): one query row at a time, the group's
// query heads against each key. `half` is a constant at every call of these always-inlined
// functions, so each caller compiles to one kind of row read: F32, or IEEE half widened exactly.
#ifndef MG_DECODER_ROWS_H
#define MG_DECODER_ROWS_H
#include <stddef.h>
#include <stdint.h>
#include "half_widen.h"
#include "mg_norm.h"
#include "pointwise_math.h"

#define MG_ROWS_INLINE static inline __attribute__((always_inline))

// Element i of a row of F32 (half = 0) or of halves (half != 0).
MG_ROWS_INLINE float mg_rows_element(const void *row, size_t i, int half) {
    return half ? mg_f16_widen(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

// Dot product with MG_LANES independent partial sums (a scalar float reduction would not vectorise).
MG_ROWS_INLINE float mg_rows_dot(const float *restrict a, const void *restrict b, int half, size_t n) {
    float lanes[MG_LANES] = {0};
    size_t body = n - n % MG_LANES;
    for (size_t i = 0; i < body; i += MG_LANES) {
        for (int l = 0; l < MG_LANES; l++) lanes[l] += a[i + l] * mg_rows_element(b, i + l, half);
    }
    float sum = 0;
    for (int l = 0; l < MG_LANES; l++) sum += lanes[l];
    for (size_t i = body; i < n; i++) sum += a[i] * mg_rows_element(b, i, half);
    return sum;
}

// Row j of a cache block of head_dim-wide rows.
MG_ROWS_INLINE const void *mg_rows_row(const void *rows, size_t j, size_t head_dim, int half) {
    return (const char *)rows + j * head_dim * (half ? sizeof(uint16_t) : sizeof(float));
}

// Rows of halves are widened once into `wide` (exactly, so no bit changes) when several query heads
// read them and they fit; otherwise every head widens the row again.
#define MG_ROWS_WIDE_MAX 1024
MG_ROWS_INLINE const void *mg_rows_widened(const void *row, int half, size_t head_dim, size_t group, float *wide,
                                           int *row_half) {
    *row_half = half;
    if (!half || group < 2 || head_dim > MG_ROWS_WIDE_MAX) return row;
    for (size_t d = 0; d < head_dim; d++) wide[d] = mg_f16_widen(((const uint16_t *)row)[d]);
    *row_half = 0;
    return wide;
}

// Scores [group, n] of the group's query rows (stride head_dim) against n keys: each key row is
// loaded once for all heads of the group.
MG_ROWS_INLINE void mg_rows_scores(const float *q, const void *keys, int half, size_t head_dim, size_t group,
                                   size_t n, float scale, float *s) {
    float wide[MG_ROWS_WIDE_MAX];
    for (size_t j = 0; j < n; j++) {
        int row_half;
        const void *k = mg_rows_widened(mg_rows_row(keys, j, head_dim, half), half, head_dim, group, wide, &row_half);
        for (size_t g = 0; g < group; g++) {
            s[g * n + j] = scale * (row_half ? mg_rows_dot(q + g * head_dim, k, 1, head_dim)
                                             : mg_rows_dot(q + g * head_dim, k, 0, head_dim));
        }
    }
}

// o[g] = Σ_j p[g·n + j]·values[j] for the group's output rows (stride head_dim).
MG_ROWS_INLINE void mg_rows_values(const float *p, const void *values, int half, size_t head_dim, size_t group,
                                   size_t n, float *o) {
    for (size_t g = 0; g < group; g++) {
        float *restrict og = o + g * head_dim;
        for (size_t d = 0; d < head_dim; d++) og[d] = 0;
    }
    float wide[MG_ROWS_WIDE_MAX];
    for (size_t j = 0; j < n; j++) {
        int row_half;
        const void *restrict v = mg_rows_widened(mg_rows_row(values, j, head_dim, half), half, head_dim, group, wide, &row_half);
        for (size_t g = 0; g < group; g++) {
            float *restrict og = o + g * head_dim;
            float pj = p[g * n + j];
            if (row_half) {
                for (size_t d = 0; d < head_dim; d++) og[d] += pj * mg_rows_element(v, d, 1);
            } else {
                for (size_t d = 0; d < head_dim; d++) og[d] += pj * mg_rows_element(v, d, 0);
            }
        }
    }
}

// mg_decoder_attention's contract (mg_decoder.h) over rows of F32 or halves.
MG_ROWS_INLINE void mg_rows_attention(const float *q, size_t q_stride, const void *keys, const void *values, int half,
                                      size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                                      size_t past, size_t window, float scale, float *out, float *scratch) {
    for (size_t t = t_begin; t < t_end; t++) {
        size_t last = past + t;
        size_t first = (window > 0 && last + 1 > window) ? last + 1 - window : 0;
        size_t n = last - first + 1;
        const float *qt = q + t * q_stride + kv_head * group * head_dim;
        float *ot = out + t * q_stride + kv_head * group * head_dim;
        mg_rows_scores(qt, mg_rows_row(keys, first, head_dim, half), half, head_dim, group, n, scale, scratch);
        mg_softmax_rows(scratch, scratch, group, n);
        mg_rows_values(scratch, mg_rows_row(values, first, head_dim, half), half, head_dim, group, n, ot);
    }
}
#endif
