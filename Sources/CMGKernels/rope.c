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
void mg_rope_rows(float *x, size_t rows, size_t heads, size_t head_dim, const float *cos_table, const float *sin_table) {
    const size_t half = head_dim / 2;
    for (size_t t = 0; t < rows; t++) {
        const float *restrict c = cos_table + t * half;
        const float *restrict s = sin_table + t * half;
        for (size_t h = 0; h < heads; h++) {
            float *restrict x1 = x + (t * heads + h) * head_dim;
            float *restrict x2 = x1 + half;
            for (size_t i = 0; i < half; i++) {
                const float a = x1[i], b = x2[i];
                x1[i] = a * c[i] - b * s[i];
                x2[i] = b * c[i] + a * s[i];
            }
        }
    }
}

MG_MULTIVERSION
void mg_rope_rows_adjacent(float *x, size_t rows, size_t heads, size_t head_dim, const float *cos_table,
                           const float *sin_table) {
    const size_t half = head_dim / 2;
    for (size_t t = 0; t < rows; t++) {
        const float *restrict c = cos_table + t * half;
        const float *restrict s = sin_table + t * half;
        for (size_t h = 0; h < heads; h++) {
            float *restrict pairs = x + (t * heads + h) * head_dim;
            for (size_t i = 0; i < half; i++) {
                const float a = pairs[2 * i], b = pairs[2 * i + 1];
                pairs[2 * i] = a * c[i] - b * s[i];
                pairs[2 * i + 1] = b * c[i] + a * s[i];
            }
        }
    }
}
