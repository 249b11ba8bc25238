// Row softmax for attention scores, applied to a score block while it is still in cache. The
// scores arrive pre-multiplied by log2(e), so exponentiation is exp2, and the normalisation is left
// to the (much smaller) output rows: the kernel returns 1/sum per row instead of rescaling scores.
#include "mg_gemv.h"

#define LANES 16

// 2^x for x <= 0: x = n + r with n integral and |r| <= 1/2 (exact), then a degree-6 Taylor
// polynomial of e^(r·ln2) (relative error < 2e-7) scaled by 2^n through the exponent bits.
// Inputs below -126 give 0 rather than subnormals.
static inline float exp2_nonpositive(float x) {
    float clamped = x < -126.0f ? -126.0f : x;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a libm call.
    float n = (clamped + 12582912.0f) - 12582912.0f;
    float r = clamped - n;
    float p = 1.5403530393381606e-4f;
    p = p * r + 1.3333558146428443e-3f;
    p = p * r + 9.6181291076284772e-3f;
    p = p * r + 5.5504108664821580e-2f;
    p = p * r + 2.4022650695910071e-1f;
    p = p * r + 6.9314718055994531e-1f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, 4);
    float result = p * scale;
    return x < -126.0f ? 0.0f : result;
}

// Replaces row[0..<valid] by 2^(row − max) and row[valid..<cols] by 0; returns 1/sum.
static inline __attribute__((always_inline)) float exp2_row(float *restrict row, size_t valid, size_t cols) {
    float lanes[LANES];
    for (int l = 0; l < LANES; l++) lanes[l] = -__builtin_inff();
    size_t body = valid - valid % LANES;
    for (size_t i = 0; i < body; i += LANES) {
        for (int l = 0; l < LANES; l++) lanes[l] = row[i + l] > lanes[l] ? row[i + l] : lanes[l];
    }
    float maximum = -__builtin_inff();
    for (int l = 0; l < LANES; l++) maximum = lanes[l] > maximum ? lanes[l] : maximum;
    for (size_t i = body; i < valid; i++) maximum = row[i] > maximum ? row[i] : maximum;

    for (int l = 0; l < LANES; l++) lanes[l] = 0;
    for (size_t i = 0; i < body; i += LANES) {
        for (int l = 0; l < LANES; l++) {
            float e = exp2_nonpositive(row[i + l] - maximum);
            row[i + l] = e;
            lanes[l] += e;
        }
    }
    float sum = 0;
    for (int l = 0; l < LANES; l++) sum += lanes[l];
    for (size_t i = body; i < valid; i++) {
        float e = exp2_nonpositive(row[i] - maximum);
        row[i] = e;
        sum += e;
    }
    for (size_t i = valid; i < cols; i++) row[i] = 0.0f;
    return 1.0f / sum;
}

MG_MULTIVERSION
void mg_attention_softmax(float *scores, size_t rows, size_t cols, size_t ld, int causal,
                          size_t first_row, size_t tq, size_t key_offset, float *inverse_sums) {
    for (size_t r = 0; r < rows; r++) {
        size_t valid = cols;
        if (causal) {
            size_t limit = (first_row + r) % tq + key_offset + 1;
            if (limit < valid) valid = limit;
        }
        inverse_sums[r] = exp2_row(scores + r * ld, valid, cols);
    }
}

MG_MULTIVERSION
void mg_scale_rows(float *out, size_t rows, size_t cols, size_t ld, const float *scales) {
    for (size_t r = 0; r < rows; r++) {
        float *restrict row = out + r * ld;
        float s = scales[r];
        for (size_t i = 0; i < cols; i++) row[i] *= s;
    }
}
