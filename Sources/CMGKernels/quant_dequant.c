// Dequantization of GGML blocks to float32, one block format per function. Contraction to FMA is
// off so the float32 arithmetic matches llama.cpp's scalar reference and numpy bit for bit.
#include "mg_quant.h"
#include <string.h>

#pragma clang fp contract(off)

static inline float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
    if (exponent == 0x1F) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else {
        // Subnormal half: mantissa · 2^-24, exact in float32.
        float value = (float)mantissa * 0x1p-24f;
        memcpy(&bits, &value, 4);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

static void dequantize_q8_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

static void dequantize_q4_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((int)(qs[j] & 0x0F) - 8) * d;
        y[j + 16] = (float)((int)(qs[j] >> 4) - 8) * d;
    }
}

static void dequantize_q4_1(const uint8_t *b, float *y) {
    const float d = half_at(b), m = half_at(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(qs[j] & 0x0F) + m;
        y[j + 16] = d * (float)(qs[j] >> 4) + m;
    }
}

static void dequantize_q5_0(const uint8_t *b, float *y) {
    const float d = half_at(b);
    uint32_t qh;
    memcpy(&qh, b + 2, 4);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        const int x0 = (int)((qs[j] & 0x0F) | (((qh >> j) & 1u) << 4)) - 16;
        const int x1 = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
        y[j] = d * (float)x0;
        y[j + 16] = d * (float)x1;
    }
}

static void dequantize_q5_1(const uint8_t *b, float *y) {
    const float d = half_at(b), m = half_at(b + 2);
    uint32_t qh;
    memcpy(&qh, b + 4, 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((qs[j] & 0x0F) | (((qh >> j) & 1u) << 4)) + m;
        y[j + 16] = d * (float)((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) + m;
    }
}

/// The 6-bit scale and min of sub-block `j` (0…7) packed in the 12 bytes `q` of Q4_K and Q5_K.
static inline void k4_scale_min(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (uint8_t)((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
        *min = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles; 8 sub-blocks of 32.
static void dequantize_q4_k(const uint8_t *b, float *y) {
    const float d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int chunk = 0; chunk < 4; chunk++) {
        uint8_t s0, m0, s1, m1;
        k4_scale_min(2 * chunk, scales, &s0, &m0);
        k4_scale_min(2 * chunk + 1, scales, &s1, &m1);
        const float d0 = d * (float)s0, min0 = dmin * (float)m0, d1 = d * (float)s1, min1 = dmin * (float)m1;
        for (int l = 0; l < 32; l++) y[l] = d0 * (float)(q[l] & 0x0F) - min0;
        for (int l = 0; l < 32; l++) y[32 + l] = d1 * (float)(q[l] >> 4) - min1;
        y += 64;
        q += 32;
    }
}

// Q5_K: f16 d, f16 dmin, 12 scale bytes, 32 bytes of fifth bits, 128 bytes of nibbles.
static void dequantize_q5_k(const uint8_t *b, float *y) {
    const float d = half_at(b), dmin = half_at(b + 2);
    const uint8_t *scales = b + 4, *high = b + 16, *q = b + 48;
    for (int chunk = 0; chunk < 4; chunk++) {
        uint8_t s0, m0, s1, m1;
        k4_scale_min(2 * chunk, scales, &s0, &m0);
        k4_scale_min(2 * chunk + 1, scales, &s1, &m1);
        const float d0 = d * (float)s0, min0 = dmin * (float)m0, d1 = d * (float)s1, min1 = dmin * (float)m1;
        const int bit0 = 2 * chunk, bit1 = 2 * chunk + 1;
        for (int l = 0; l < 32; l++) y[l] = d0 * (float)((q[l] & 0x0F) | (((high[l] >> bit0) & 1) << 4)) - min0;
        for (int l = 0; l < 32; l++) y[32 + l] = d1 * (float)((q[l] >> 4) | (((high[l] >> bit1) & 1) << 4)) - min1;
        y += 64;
        q += 32;
    }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of high bit pairs, 16 int8 scales, f16 d.
static void dequantize_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *scales = (const int8_t *)(b + 192);
    const float d = half_at(b + 208);
    for (int half = 0; half < 2; half++) {
        for (int l = 0; l < 32; l++) {
            const int sub = l / 16;
            const int q1 = (int)((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = (int)((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)scales[sub] * (float)q1;
            y[l + 32] = d * (float)scales[sub + 2] * (float)q2;
            y[l + 64] = d * (float)scales[sub + 4] * (float)q3;
            y[l + 96] = d * (float)scales[sub + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        scales += 8;
    }
}

// Q3_K: 32 bytes of high-bit mask, 64 bytes of 2-bit values, 12 bytes of 6-bit scales, f16 d.
static void dequantize_q3_k(const uint8_t *b, float *y) {
    const uint8_t *mask = b, *q = b + 32, *packed = b + 96;
    const float d = half_at(b + 108);
    int8_t scales[16];
    for (int i = 0; i < 16; i++) {
        const int low = i < 8 ? (packed[i] & 0x0F) : (packed[i - 8] >> 4);
        const int high = (packed[8 + (i & 3)] >> (2 * (i >> 2))) & 3;
        scales[i] = (int8_t)((low | (high << 4)) - 32);
    }
    for (int i = 0; i < 256; i++) {
        const int chunk = i / 128, shift = (i / 32) & 3, l = i & 31;
        const int low = (q[chunk * 32 + l] >> (2 * shift)) & 3;
        const int bit = (mask[l] >> (i / 32)) & 1;
        const float dl = d * (float)scales[i / 16];
        y[i] = dl * (float)(low - (bit ? 0 : 4));
    }
}

// Q2_K: 16 scale bytes (scale nibble, min nibble), 64 bytes of 2-bit values, f16 d, f16 dmin.
static void dequantize_q2_k(const uint8_t *b, float *y) {
    const uint8_t *scales = b, *q = b + 16;
    const float d = half_at(b + 80), dmin = half_at(b + 82);
    for (int i = 0; i < 256; i++) {
        const int chunk = i / 128, shift = (i / 32) & 3, l = i & 31;
        const int value = (q[chunk * 32 + l] >> (2 * shift)) & 3;
        const uint8_t s = scales[i / 16];
        const float dl = d * (float)(s & 0x0F), ml = dmin * (float)(s >> 4);
        y[i] = dl * (float)value - ml;
    }
}

int mg_dequantize_blocks(int ggml_type, const void *src, float *dst, size_t blocks) {
    const uint8_t *b = (const uint8_t *)src;
    switch (ggml_type) {
    case MG_GGML_Q8_0: for (size_t i = 0; i < blocks; i++) dequantize_q8_0(b + i * 34, dst + i * 32); return 0;
    case MG_GGML_Q4_0: for (size_t i = 0; i < blocks; i++) dequantize_q4_0(b + i * 18, dst + i * 32); return 0;
    case MG_GGML_Q4_1: for (size_t i = 0; i < blocks; i++) dequantize_q4_1(b + i * 20, dst + i * 32); return 0;
    case MG_GGML_Q5_0: for (size_t i = 0; i < blocks; i++) dequantize_q5_0(b + i * 22, dst + i * 32); return 0;
    case MG_GGML_Q5_1: for (size_t i = 0; i < blocks; i++) dequantize_q5_1(b + i * 24, dst + i * 32); return 0;
    case MG_GGML_Q2_K: for (size_t i = 0; i < blocks; i++) dequantize_q2_k(b + i * 84, dst + i * 256); return 0;
    case MG_GGML_Q3_K: for (size_t i = 0; i < blocks; i++) dequantize_q3_k(b + i * 110, dst + i * 256); return 0;
    case MG_GGML_Q4_K: for (size_t i = 0; i < blocks; i++) dequantize_q4_k(b + i * 144, dst + i * 256); return 0;
    case MG_GGML_Q5_K: for (size_t i = 0; i < blocks; i++) dequantize_q5_k(b + i * 176, dst + i * 256); return 0;
    case MG_GGML_Q6_K: for (size_t i = 0; i < blocks; i++) dequantize_q6_k(b + i * 210, dst + i * 256); return 0;
    default: return -1;
    }
}
