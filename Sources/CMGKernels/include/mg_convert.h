#ifndef MG_CONVERT_H
#define MG_CONVERT_H
#include "mg_common.h"

/// bfloat16 (as raw uint16) → float32, exact.
void mg_bf16_to_f32(const uint16_t *src, float *dst, size_t n);
/// IEEE half (as raw uint16) → float32, exact (subnormals, inf and NaN included).
void mg_f16_to_f32(const uint16_t *src, float *dst, size_t n);
/// float32 → bfloat16, round to nearest even; NaN stays NaN.
void mg_f32_to_bf16(const float *src, uint16_t *dst, size_t n);
/// float32 → IEEE half, round to nearest even, overflow to inf; NaN stays NaN.
void mg_f32_to_f16(const float *src, uint16_t *dst, size_t n);

#endif
