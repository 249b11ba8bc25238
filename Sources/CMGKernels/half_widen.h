// Exact widening of 16-bit floats to f32, shared by the GEMV kernels (gemv.c, gemv_batched.c).
#ifndef MG_HALF_WIDEN_H
#define MG_HALF_WIDEN_H
#include <stdint.h>
#include <string.h>

static inline float mg_bf16_widen(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// Branch-free and exact: the exponent/mantissa bits shifted into f32 position give value × 2^-112
// for normal and subnormal halves alike; inf/NaN are patched with a select.
static inline float mg_f16_widen(uint16_t h) {
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

#endif
