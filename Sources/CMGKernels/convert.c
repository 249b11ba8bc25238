// Storage-dtype conversions. bf16 is the top half of an f32; f16 is converted bit-exactly without
// relying on F16C so the default clone matches the AVX clones.
#include "mg_convert.h"
#include <string.h>

MG_MULTIVERSION
void mg_bf16_to_f32(const uint16_t *src, float *dst, size_t n) {
    uint32_t *out = (uint32_t *)dst;
    for (size_t i = 0; i < n; i++) out[i] = (uint32_t)src[i] << 16;
}

static inline uint32_t half_bits_to_float_bits(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return sign | 0x7f800000u | (mantissa << 13);
    if (exponent != 0) return sign | ((exponent + 112u) << 23) | (mantissa << 13);
    if (mantissa == 0) return sign;
    // Subnormal half: value = mantissa * 2^-24, exact in f32.
    float magnitude = (float)mantissa * 5.9604644775390625e-08f;
    uint32_t bits;
    memcpy(&bits, &magnitude, 4);
    return sign | bits;
}

MG_MULTIVERSION
void mg_f16_to_f32(const uint16_t *src, float *dst, size_t n) {
    uint32_t *out = (uint32_t *)dst;
    for (size_t i = 0; i < n; i++) out[i] = half_bits_to_float_bits(src[i]);
}

MG_MULTIVERSION
void mg_f32_to_bf16(const float *src, uint16_t *dst, size_t n) {
    const uint32_t *in = (const uint32_t *)src;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = in[i];
        if ((x & 0x7fffffffu) > 0x7f800000u) {
            dst[i] = (uint16_t)((x >> 16) | 0x40u);
        } else {
            uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
            dst[i] = (uint16_t)((x + rounding) >> 16);
        }
    }
}

static inline uint16_t float_bits_to_half_bits(uint32_t x) {
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return sign | 0x7e00u;
    if (magnitude >= 0x477ff000u) return sign | 0x7c00u; // rounds to >= 65520 → inf
    if (magnitude >= 0x38800000u) {
        // Normal half: rebias the exponent, round the 13 dropped bits to nearest even.
        uint32_t rebased = magnitude - (112u << 23);
        uint32_t rounding = 0xfffu + ((rebased >> 13) & 1u);
        return sign | (uint16_t)((rebased + rounding) >> 13);
    }
    if (magnitude < 0x33000000u) return sign; // below half the smallest subnormal
    // Subnormal half: shift the full significand, round to nearest even.
    uint32_t exponent = magnitude >> 23;
    uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - exponent; // 14 ... 24
    uint32_t truncated = significand >> shift;
    uint32_t remainder = significand & ((1u << shift) - 1u);
    uint32_t halfway = 1u << (shift - 1u);
    if (remainder > halfway || (remainder == halfway && (truncated & 1u))) truncated += 1u;
    return sign | (uint16_t)truncated;
}

MG_MULTIVERSION
void mg_f32_to_f16(const float *src, uint16_t *dst, size_t n) {
    const uint32_t *in = (const uint32_t *)src;
    for (size_t i = 0; i < n; i++) dst[i] = float_bits_to_half_bits(in[i]);
}
