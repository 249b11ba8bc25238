#ifndef MG_INTERP_H
#define MG_INTERP_H
#include "mg_common.h"

/// Source taps of linear interpolation along one axis (align_corners = false), computed in float32
/// exactly as PyTorch's CPU kernel does: src = scale·(dst + 0.5) − 0.5 without fused multiply-add,
/// clamped below at 0; i0 = floor(src) (at most in−1), i1 = min(i0 + 1, in − 1),
/// w1 = src − i0 clamped to [0, 1], w0 = 1 − w1. Equal sizes give the identity (w0 = 1, w1 = 0).
void mg_linear_taps(size_t in_size, size_t out_size, float scale, int32_t *i0, int32_t *i1, float *w0, float *w1);

/// Bilinear resampling of `planes` planes of in_h×in_w to out_h×out_w with precomputed taps
/// (rows: hi0/hi1/hw0/hw1 of length out_h; columns: wi0/wi1/ww0/ww1 of length out_w).
/// Each input row is interpolated horizontally once, t = fma(a, w0, b·w1), then each output row is
/// fma(t0, h0, t1·h1): the same rounding as PyTorch's separable kernel.
/// `scratch` must hold 2·out_w floats.
void mg_bilinear_planes(const float *input, float *output, size_t planes, size_t in_h, size_t in_w,
                        size_t out_h, size_t out_w, const int32_t *hi0, const int32_t *hi1,
                        const float *hw0, const float *hw1, const int32_t *wi0, const int32_t *wi1,
                        const float *ww0, const float *ww1, float *scratch);

#endif
