// Shared by the tier files of the quantized dot products (not part of the public header).
#ifndef MG_QUANT_DOT_INTERNAL_H
#define MG_QUANT_DOT_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QD_Q4_0 2u
#define QD_Q8_0 8u
#define QD_Q4_K 12u
#define QD_Q6_K 14u

/// Most activation rows one tile call handles; one weight row is decoded once per tile.
#define QD_MAX_TOKENS 4

/// out[t] = W_row · X_t for t < tokens (≤ QD_MAX_TOKENS), `xs[t]` an activation row in the
/// layout of mg_qd_activation_row_bytes.
typedef void (*qd_tile_fn)(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out);

void qd_tile_scalar(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out);
void qd_tile_avx2(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out);
void qd_tile_avxvnni(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out);
void qd_tile_avx512vnni(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out);

static inline size_t qd_block_size(uint32_t format) {
    return (format == QD_Q4_K || format == QD_Q6_K) ? 256 : 32;
}

/// Offsets inside an activation row of n values: q at 0, d after it, then the sums.
static inline size_t qd_scale_offset(size_t n) { return n; }
static inline size_t qd_sum_offset(uint32_t format, size_t n) { return n + 4 * (n / qd_block_size(format)); }

static inline float qd_half(const uint8_t *p) {
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

/// Q4_K's packed 6-bit scale and min of sub-block j (get_scale_min_k4 of ggml-quants.c).
static inline void qd_q4k_scale_min(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *min = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
