// Quantization of float32 rows to GGML blocks for `mgm quantize`.
#include "mg_quant.h"
#include "mg_convert.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

static inline void store_half(uint8_t *p, float value) {
    uint16_t h;
    mg_f32_to_f16(&value, &h, 1);
    memcpy(p, &h, 2);
}

static inline float half_value(float value) {
    uint16_t h;
    float out;
    mg_f32_to_f16(&value, &h, 1);
    mg_f16_to_f32(&h, &out, 1);
    return out;
}

static inline int nearest(float x) { return (int)lroundf(x); }

// Q8_0 as quantize_row_q8_0_ref: d = max|x| / 127, q = round-half-away(x / d).
static void quantize_q8_0(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    store_half(b, d);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

// Q4_0 as quantize_row_q4_0_ref: the value of largest magnitude maps to -8.
static void quantize_q4_0(const float *x, uint8_t *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    store_half(b, d);
    for (int j = 0; j < 16; j++) {
        int low = (int)(int8_t)(x[j] * id + 8.5f), high = (int)(int8_t)(x[j + 16] * id + 8.5f);
        low = low > 15 ? 15 : low;
        high = high > 15 ? 15 : high;
        b[2 + j] = (uint8_t)(low | (high << 4));
    }
}

// Q5_0 as quantize_row_q5_0_ref: like Q4_0 with 5-bit values, the fifth bits packed in a uint32.
static void quantize_q5_0(const float *x, uint8_t *b) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    }
    const float d = max / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    store_half(b, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int low = (int)(int8_t)(x[j] * id + 16.5f), high = (int)(int8_t)(x[j + 16] * id + 16.5f);
        low = low > 31 ? 31 : low;
        high = high > 31 ? 31 : high;
        b[6 + j] = (uint8_t)((low & 0x0F) | ((high & 0x0F) << 4));
        qh |= ((uint32_t)(low >> 4) & 1u) << j;
        qh |= ((uint32_t)(high >> 4) & 1u) << (j + 16);
    }
    memcpy(b + 2, &qh, 4);
}

// Q4_K: each 32-value sub-block gets scale (max − min)/15 and offset −min (min ≤ 0); the scales and
// offsets are then quantized to 6 bits against the super-block's f16 d and dmin, and the values
// re-quantized with the scales as they will be decoded.
static void quantize_q4_k(const float *x, uint8_t *b) {
    float scales[8], mins[8], maxScale = 0.0f, maxMin = 0.0f;
    for (int j = 0; j < 8; j++) {
        float lo = x[32 * j], hi = x[32 * j];
        for (int l = 1; l < 32; l++) { lo = fminf(lo, x[32 * j + l]); hi = fmaxf(hi, x[32 * j + l]); }
        if (lo > 0.0f) lo = 0.0f;
        scales[j] = (hi - lo) / 15.0f;
        mins[j] = -lo;
        maxScale = fmaxf(maxScale, scales[j]);
        maxMin = fmaxf(maxMin, mins[j]);
    }
    const float d = half_value(maxScale / 63.0f), dmin = half_value(maxMin / 63.0f);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        int s = d > 0.0f ? nearest(scales[j] / d) : 0, m = dmin > 0.0f ? nearest(mins[j] / dmin) : 0;
        ls[j] = (uint8_t)(s < 0 ? 0 : s > 63 ? 63 : s);
        lm[j] = (uint8_t)(m < 0 ? 0 : m > 63 ? 63 : m);
    }
    store_half(b, maxScale / 63.0f);
    store_half(b + 2, maxMin / 63.0f);
    uint8_t *packed = b + 4;
    memset(packed, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            packed[j] = ls[j];
            packed[j + 4] = lm[j];
        } else {
            packed[j + 4] = (uint8_t)((ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4));
            packed[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            packed[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    uint8_t levels[256];
    for (int j = 0; j < 8; j++) {
        const float step = d * (float)ls[j], offset = dmin * (float)lm[j];
        for (int l = 0; l < 32; l++) {
            int q = step > 0.0f ? nearest((x[32 * j + l] + offset) / step) : 0;
            levels[32 * j + l] = (uint8_t)(q < 0 ? 0 : q > 15 ? 15 : q);
        }
    }
    uint8_t *qs = b + 16;
    for (int chunk = 0; chunk < 4; chunk++) {
        for (int l = 0; l < 32; l++) qs[32 * chunk + l] = (uint8_t)(levels[64 * chunk + l] | (levels[64 * chunk + 32 + l] << 4));
    }
}

// Q6_K: each 16-value sub-block gets a signed scale that maps its value of largest magnitude to −32;
// the scales are quantized to int8 against the super-block's f16 d.
static void quantize_q6_k(const float *x, uint8_t *b) {
    float scales[16], maxAbsScale = 0.0f, maxScale = 0.0f;
    for (int j = 0; j < 16; j++) {
        float amax = 0.0f, max = 0.0f;
        for (int l = 0; l < 16; l++) {
            const float v = x[16 * j + l];
            if (amax < fabsf(v)) { amax = fabsf(v); max = v; }
        }
        scales[j] = max / -32.0f;
        if (fabsf(scales[j]) > maxAbsScale) { maxAbsScale = fabsf(scales[j]); maxScale = scales[j]; }
    }
    const float dRaw = maxScale / -128.0f;
    const float d = half_value(dRaw);
    int8_t *packedScales = (int8_t *)(b + 192);
    uint8_t levels[256];
    for (int j = 0; j < 16; j++) {
        int s = d != 0.0f ? nearest(scales[j] / d) : 0;
        s = s < -128 ? -128 : s > 127 ? 127 : s;
        packedScales[j] = (int8_t)s;
        const float step = d * (float)s;
        for (int l = 0; l < 16; l++) {
            int q = step != 0.0f ? nearest(x[16 * j + l] / step) : 0;
            q = q < -32 ? -32 : q > 31 ? 31 : q;
            levels[16 * j + l] = (uint8_t)(q + 32);
        }
    }
    store_half(b + 208, dRaw);
    uint8_t *ql = b, *qh = b + 128;
    for (int half = 0; half < 2; half++) {
        const uint8_t *L = levels + 128 * half;
        for (int l = 0; l < 32; l++) {
            const uint8_t q1 = L[l], q2 = L[l + 32], q3 = L[l + 64], q4 = L[l + 96];
            ql[64 * half + l] = (uint8_t)((q1 & 0x0F) | ((q3 & 0x0F) << 4));
            ql[64 * half + l + 32] = (uint8_t)((q2 & 0x0F) | ((q4 & 0x0F) << 4));
            qh[32 * half + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
}

int mg_quantize_row(int ggml_type, const float *src, void *dst, size_t n) {
    uint8_t *b = (uint8_t *)dst;
    switch (ggml_type) {
    case MG_GGML_Q8_0: for (size_t i = 0; i < n / 32; i++) quantize_q8_0(src + 32 * i, b + 34 * i); return 0;
    case MG_GGML_Q4_0: for (size_t i = 0; i < n / 32; i++) quantize_q4_0(src + 32 * i, b + 18 * i); return 0;
    case MG_GGML_Q5_0: for (size_t i = 0; i < n / 32; i++) quantize_q5_0(src + 32 * i, b + 22 * i); return 0;
    case MG_GGML_Q4_K: for (size_t i = 0; i < n / 256; i++) quantize_q4_k(src + 256 * i, b + 144 * i); return 0;
    case MG_GGML_Q6_K: for (size_t i = 0; i < n / 256; i++) quantize_q6_k(src + 256 * i, b + 210 * i); return 0;
    default: return -1;
    }
}
