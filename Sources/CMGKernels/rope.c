// Rotary position embedding (rotate-half layout of Hugging Face transformers).
#include "mg_rope.h"
#include <math.h>

void mg_rope_table(const int64_t *positions, size_t count, size_t head_dim, float theta, float *inv_freq,
                   float *cos_out, float *sin_out) {
    const size_t half = head_dim / 2;
    for (size_t i = 0; i < half; i++) {
        const float exponent = (float)(2 * i) / (float)head_dim;
        inv_freq[i] = 1.0f / powf(theta, exponent);
    }
    for (size_t t = 0; t < count; t++) {
        const float position = (float)positions[t];
        for (size_t i = 0; i < half; i++) {
            // The angle is rounded to float32 exactly as the reference does; only cos/sin of that
            // float are evaluated in double so the table itself is correctly rounded.
            const float angle = position * inv_freq[i];
            cos_out[t * half + i] = (float)cos((double)angle);
            sin_out[t * half + i] = (float)sin((double)angle);
        }
    }
}

MG_MULTIVERSION
void mg_rope_apply(const float *x, float *y, size_t head_dim, size_t seq_len, const float *cos_table,
                   const float *sin_table, size_t row_begin, size_t row_end) {
    const size_t half = head_dim / 2;
    for (size_t r = row_begin; r < row_end; r++) {
        const float *c = cos_table + (r % seq_len) * half;
        const float *s = sin_table + (r % seq_len) * half;
        const float *x1 = x + r * head_dim, *x2 = x1 + half;
        float *y1 = y + r * head_dim, *y2 = y1 + half;
        _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < half; i++) {
            const float a = x1[i], b = x2[i];
            y1[i] = a * c[i] - b * s[i];
            y2[i] = b * c[i] + a * s[i];
        }
    }
}
