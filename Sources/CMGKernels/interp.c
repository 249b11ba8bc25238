// Bilinear resampling bit-compatible with torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False) on contiguous NCHW float32 tensors.
#include "mg_interp.h"

// PyTorch evaluates the source coordinate as two separately rounded operations; a contracted
// multiply-add would move some taps by one ulp.
#pragma STDC FP_CONTRACT OFF
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

void mg_linear_taps(size_t in_size, size_t out_size, float scale, int32_t *i0, int32_t *i1, float *w0, float *w1) {
    for (size_t d = 0; d < out_size; d++) {
        if (in_size == out_size) {
            i0[d] = (int32_t)d;
            i1[d] = (int32_t)d;
            w0[d] = 1.0f;
            w1[d] = 0.0f;
            continue;
        }
        volatile float product = scale * ((float)d + 0.5f);
        float src = product - 0.5f;
        if (src < 0.0f) src = 0.0f;
        int64_t index = (int64_t)src; // src >= 0, so truncation is floor
        if (index > (int64_t)in_size - 1) index = (int64_t)in_size - 1;
        float lambda = src - (float)index;
        if (lambda < 0.0f) lambda = 0.0f;
        if (lambda > 1.0f) lambda = 1.0f;
        i0[d] = (int32_t)index;
        i1[d] = (int32_t)(index < (int64_t)in_size - 1 ? index + 1 : index);
        w1[d] = lambda;
        w0[d] = 1.0f - lambda;
    }
}

MG_MULTIVERSION
static void horizontal(const float *restrict row, float *restrict out, size_t n, const int32_t *restrict i0,
                       const int32_t *restrict i1, const float *restrict w0, const float *restrict w1) {
    for (size_t x = 0; x < n; x++) out[x] = __builtin_fmaf(row[i0[x]], w0[x], row[i1[x]] * w1[x]);
}

MG_MULTIVERSION
static void vertical(const float *restrict t0, const float *restrict t1, float h0, float h1, float *restrict out,
                     size_t n) {
    for (size_t x = 0; x < n; x++) out[x] = __builtin_fmaf(t0[x], h0, t1[x] * h1);
}

void mg_bilinear_planes(const float *input, float *output, size_t planes, size_t in_h, size_t in_w,
                        size_t out_h, size_t out_w, const int32_t *hi0, const int32_t *hi1,
                        const float *hw0, const float *hw1, const int32_t *wi0, const int32_t *wi1,
                        const float *ww0, const float *ww1, float *scratch) {
    float *slots[2] = {scratch, scratch + out_w};
    for (size_t p = 0; p < planes; p++) {
        const float *plane = input + p * in_h * in_w;
        float *out = output + p * out_h * out_w;
        // Output rows visit input rows in non-decreasing order, so two cached horizontally
        // interpolated rows mean each needed input row is interpolated once per plane.
        int64_t ids[2] = {-1, -1};
        for (size_t y = 0; y < out_h; y++) {
            const int64_t r0 = hi0[y], r1 = hi1[y];
            int s0 = ids[0] == r0 ? 0 : (ids[1] == r0 ? 1 : -1);
            if (s0 < 0) {
                s0 = ids[0] == r1 ? 1 : 0;
                horizontal(plane + r0 * in_w, slots[s0], out_w, wi0, wi1, ww0, ww1);
                ids[s0] = r0;
            }
            int s1 = ids[0] == r1 ? 0 : (ids[1] == r1 ? 1 : -1);
            if (s1 < 0) {
                s1 = 1 - s0;
                horizontal(plane + r1 * in_w, slots[s1], out_w, wi0, wi1, ww0, ww1);
                ids[s1] = r1;
            }
            vertical(slots[s0], slots[s1], hw0[y], hw1[y], out + y * out_w, out_w);
        }
    }
}
