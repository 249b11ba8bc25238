// Matrix-vector products with 16-bit weights, for single-token decode. The weights dominate the
// memory traffic, so they are widened in registers and never written out as f32. Four rows share
// each load of x; sixteen independent lanes per row let the compiler use full vectors and hide the
// FMA latency (a plain scalar reduction would not vectorise without fast-math).
#include "mg_gemv.h"
#include <string.h>

#define LANES 16

static inline float bf16_value(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Branch-free and exact: the exponent/mantissa bits shifted into f32 position give value × 2^-112
// for normal and subnormal halves alike; inf/NaN are patched with a select.
static inline float f16_value(uint16_t h) {
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

static inline float lane_sum(const float *lanes) {
    float sum = 0;
    for (int l = 0; l < LANES; l++) sum += lanes[l];
    return sum;
}

#define DEFINE_GEMV(NAME, WIDEN)                                                                   \
    MG_MULTIVERSION                                                                                \
    void NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias,      \
              float *restrict y, size_t rows, size_t cols) {                                       \
        size_t body = cols - cols % LANES;                                                         \
        size_t r = 0;                                                                              \
        for (; r + 4 <= rows; r += 4) {                                                            \
            const uint16_t *w0 = w + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;  \
            float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};              \
            for (size_t i = 0; i < body; i += LANES) {                                             \
                for (int l = 0; l < LANES; l++) {                                                  \
                    float xv = x[i + l];                                                           \
                    a0[l] += xv * WIDEN(w0[i + l]);                                                \
                    a1[l] += xv * WIDEN(w1[i + l]);                                                \
                    a2[l] += xv * WIDEN(w2[i + l]);                                                \
                    a3[l] += xv * WIDEN(w3[i + l]);                                                \
                }                                                                                  \
            }                                                                                      \
            float s0 = lane_sum(a0), s1 = lane_sum(a1), s2 = lane_sum(a2), s3 = lane_sum(a3);      \
            for (size_t i = body; i < cols; i++) {                                                 \
                s0 += x[i] * WIDEN(w0[i]);                                                         \
                s1 += x[i] * WIDEN(w1[i]);                                                         \
                s2 += x[i] * WIDEN(w2[i]);                                                         \
                s3 += x[i] * WIDEN(w3[i]);                                                         \
            }                                                                                      \
            if (bias) {                                                                            \
                s0 += bias[r];                                                                     \
                s1 += bias[r + 1];                                                                 \
                s2 += bias[r + 2];                                                                 \
                s3 += bias[r + 3];                                                                 \
            }                                                                                      \
            y[r] = s0;                                                                             \
            y[r + 1] = s1;                                                                         \
            y[r + 2] = s2;                                                                         \
            y[r + 3] = s3;                                                                         \
        }                                                                                          \
        for (; r < rows; r++) {                                                                    \
            const uint16_t *w0 = w + r * cols;                                                     \
            float a0[LANES] = {0};                                                                 \
            for (size_t i = 0; i < body; i += LANES) {                                             \
                for (int l = 0; l < LANES; l++) a0[l] += x[i + l] * WIDEN(w0[i + l]);              \
            }                                                                                      \
            float s0 = lane_sum(a0);                                                               \
            for (size_t i = body; i < cols; i++) s0 += x[i] * WIDEN(w0[i]);                        \
            y[r] = bias ? s0 + bias[r] : s0;                                                       \
        }                                                                                          \
    }

DEFINE_GEMV(mg_gemv_bf16, bf16_value)
DEFINE_GEMV(mg_gemv_f16, f16_value)

void mg_fill_rows(const float *bias, float *out, size_t rows, size_t cols, size_t ld) {
    for (size_t r = 0; r < rows; r++) memcpy(out + r * ld, bias, cols * sizeof(float));
}
