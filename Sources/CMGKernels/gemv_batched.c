// Matrix-vector products of several input rows with one 16-bit weight matrix (continuous-batching
// decode). Each block of sixteen weights is widened once into registers and multiplied into the
// accumulators of up to eight input rows, so the weights — which dominate the memory traffic —
// are read once per group of eight sequences instead of once per sequence.
#include "mg_gemv_batched.h"
#include <string.h>

#define LANES 16
#define GROUP 8

static inline float bf16_widen(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// As f16_value in gemv.c: exact, branch-free widening of an IEEE half.
static inline float f16_widen(uint16_t h) {
    uint32_t magnitude = (uint32_t)(h & 0x7fffu) << 13;
    float scaled;
    memcpy(&scaled, &magnitude, 4);
    scaled *= 0x1p112f;
    uint32_t bits;
    memcpy(&bits, &scaled, 4);
    uint32_t special = 0x7f800000u | magnitude;
    bits = (h & 0x7c00u) == 0x7c00u ? special : bits;
    bits |= (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

#define DEFINE_GEMV_BATCH(NAME, WIDEN)                                                             \
    MG_MULTIVERSION                                                                                \
    void NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias,      \
              float *restrict y, size_t ldy, size_t rows, size_t cols, size_t batch) {             \
        size_t body = cols - cols % LANES;                                                         \
        for (size_t first = 0; first < batch; first += GROUP) {                                    \
            size_t count = batch - first < GROUP ? batch - first : GROUP;                          \
            const float *xs = x + first * cols;                                                    \
            for (size_t r = 0; r < rows; r++) {                                                    \
                const uint16_t *wr = w + r * cols;                                                 \
                float acc[GROUP][LANES];                                                           \
                memset(acc, 0, sizeof(acc));                                                       \
                for (size_t i = 0; i < body; i += LANES) {                                         \
                    float wv[LANES];                                                               \
                    for (int l = 0; l < LANES; l++) wv[l] = WIDEN(wr[i + l]);                      \
                    for (size_t b = 0; b < count; b++) {                                           \
                        const float *xb = xs + b * cols + i;                                       \
                        for (int l = 0; l < LANES; l++) acc[b][l] += xb[l] * wv[l];                \
                    }                                                                              \
                }                                                                                  \
                for (size_t b = 0; b < count; b++) {                                               \
                    float s = 0;                                                                   \
                    for (int l = 0; l < LANES; l++) s += acc[b][l];                                \
                    const float *xb = xs + b * cols;                                               \
                    for (size_t i = body; i < cols; i++) s += xb[i] * WIDEN(wr[i]);                \
                    y[(first + b) * ldy + r] = bias ? s + bias[r] : s;                             \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_GEMV_BATCH(mg_gemv_bf16_batch, bf16_widen)
DEFINE_GEMV_BATCH(mg_gemv_f16_batch, f16_widen)
