// Convolution helpers: im2col for the GEMM path and a direct depthwise kernel.
#include "mg_conv.h"
#include "channel_norm_block.h"
#include "pointwise_math.h"
#include <string.h>

typedef ptrdiff_t sidx;

/// First output position whose tap `k` lands at or after input index 0, and one past the last whose
/// tap lands before `size`: taps outside [lo, hi) read the zero padding.
static inline void valid_range(sidx size, sidx out, sidx stride, sidx pad, sidx k, sidx *lo, sidx *hi) {
    sidx first = pad - k; // smallest o*stride reaching input 0
    sidx l = first <= 0 ? 0 : (first + stride - 1) / stride;
    sidx last = size - 1 + pad - k; // largest o*stride still inside
    sidx h = last < 0 ? 0 : last / stride + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

MG_MULTIVERSION
void mg_im2col(const float *input, float *cols, size_t ld, const mg_conv_geometry *g,
               size_t k_begin, size_t k_end, size_t row_begin, size_t row_end) {
    const sidx H = (sidx)g->height, W = (sidx)g->width, KH = (sidx)g->kernel_h, KW = (sidx)g->kernel_w;
    const sidx SH = (sidx)g->stride_h, SW = (sidx)g->stride_w, PH = (sidx)g->pad_h, PW = (sidx)g->pad_w;
    const sidx OW = (sidx)g->out_w;
    for (size_t k = k_begin; k < k_end; k++) {
        const sidx c = (sidx)k / (KH * KW), ky = ((sidx)k / KW) % KH, kx = (sidx)k % KW;
        const float *plane = input + (size_t)c * (size_t)(H * W);
        float *dst = cols + (k - k_begin) * ld;
        sidx lo, hi;
        valid_range(W, OW, SW, PW, kx, &lo, &hi);
        for (size_t oy = row_begin; oy < row_end; oy++, dst += OW) {
            const sidx iy = (sidx)oy * SH + ky - PH;
            if (iy < 0 || iy >= H) {
                memset(dst, 0, (size_t)OW * sizeof(float));
                continue;
            }
            const float *restrict src = plane + iy * W + kx - PW;
            float *restrict out = dst;
            for (sidx ox = 0; ox < lo; ox++) out[ox] = 0.0f;
            if (SW == 1) {
                memcpy(out + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
            } else {
                for (sidx ox = lo; ox < hi; ox++) out[ox] = src[ox * SW];
            }
            for (sidx ox = hi; ox < OW; ox++) out[ox] = 0.0f;
        }
    }
}

size_t mg_depthwise_scratch_floats(const mg_conv_geometry *g) {
    // One padded plane, plus a vector's worth of slack for the blocked row loops.
    return (g->height + 2 * g->pad_h) * (g->width + 2 * g->pad_w) + 64;
}

enum { DW_BLOCK = 32 };

// Stride-1 rows: `rows` points at the padded input row feeding the first kernel row, at the first
// output column. Accumulation is bias first, then taps in kernel order (row by row), as PyTorch's
// depthwise kernel does; the results agree with it bit for bit. `KW` is a compile-time constant in
// the specialised callers, which lets the compiler unroll the taps and keep accumulators in registers.

/// Fewer than DW_BLOCK outputs of one row.
static inline __attribute__((always_inline)) void dw_tail(
    const float *restrict rows, size_t pitch, const float *restrict w, float b, float *restrict out, size_t n,
    size_t KH, const size_t KW) {
    float acc[DW_BLOCK];
    for (size_t i = 0; i < n; i++) acc[i] = b;
    for (size_t ky = 0; ky < KH; ky++) {
        for (size_t kx = 0; kx < KW; kx++) {
            const float wv = w[ky * KW + kx];
            const float *r = rows + ky * pitch + kx;
            for (size_t i = 0; i < n; i++) acc[i] += wv * r[i];
        }
    }
    for (size_t i = 0; i < n; i++) out[i] = acc[i];
}

/// One output row.
static inline __attribute__((always_inline)) void dw_row(
    const float *restrict rows, size_t pitch, const float *restrict w, float b, float *restrict out, size_t OW,
    size_t KH, const size_t KW) {
    size_t x = 0;
    for (; x + DW_BLOCK <= OW; x += DW_BLOCK) {
        float acc[DW_BLOCK];
        for (size_t i = 0; i < DW_BLOCK; i++) acc[i] = b;
        for (size_t ky = 0; ky < KH; ky++) {
            for (size_t kx = 0; kx < KW; kx++) {
                const float wv = w[ky * KW + kx];
                const float *r = rows + ky * pitch + x + kx;
                for (size_t i = 0; i < DW_BLOCK; i++) acc[i] += wv * r[i];
            }
        }
        for (size_t i = 0; i < DW_BLOCK; i++) out[x + i] = acc[i];
    }
    if (x < OW) dw_tail(rows + x, pitch, w, b, out + x, OW - x, KH, KW);
}

/// Two adjacent output rows: each loaded input row serves both, and the two accumulator sets are
/// independent FMA chains, which hides the FMA latency (one row alone is latency bound).
static inline __attribute__((always_inline)) void dw_rows2(
    const float *restrict rows, size_t pitch, const float *restrict w, float b, float *restrict out0,
    float *restrict out1, size_t OW, size_t KH, const size_t KW) {
    size_t x = 0;
    for (; x + DW_BLOCK <= OW; x += DW_BLOCK) {
        float acc0[DW_BLOCK], acc1[DW_BLOCK];
        for (size_t i = 0; i < DW_BLOCK; i++) acc0[i] = b;
        for (size_t i = 0; i < DW_BLOCK; i++) acc1[i] = b;
        for (size_t kx = 0; kx < KW; kx++) {
            const float wv = w[kx];
            const float *r = rows + x + kx;
            for (size_t i = 0; i < DW_BLOCK; i++) acc0[i] += wv * r[i];
        }
        for (size_t ky = 1; ky < KH; ky++) {
            for (size_t kx = 0; kx < KW; kx++) {
                const float w0 = w[ky * KW + kx], w1 = w[(ky - 1) * KW + kx];
                const float *r = rows + ky * pitch + x + kx;
                for (size_t i = 0; i < DW_BLOCK; i++) {
                    acc0[i] += w0 * r[i];
                    acc1[i] += w1 * r[i];
                }
            }
        }
        for (size_t kx = 0; kx < KW; kx++) {
            const float wv = w[(KH - 1) * KW + kx];
            const float *r = rows + KH * pitch + x + kx;
            for (size_t i = 0; i < DW_BLOCK; i++) acc1[i] += wv * r[i];
        }
        for (size_t i = 0; i < DW_BLOCK; i++) out0[x + i] = acc0[i];
        for (size_t i = 0; i < DW_BLOCK; i++) out1[x + i] = acc1[i];
    }
    if (x < OW) {
        dw_tail(rows + x, pitch, w, b, out0 + x, OW - x, KH, KW);
        dw_tail(rows + pitch + x, pitch, w, b, out1 + x, OW - x, KH, KW);
    }
}

/// All output rows of one channel, stride 1.
static inline __attribute__((always_inline)) void dw_plane_s1(
    const float *restrict padded, size_t pitch, const float *restrict w, float b, float *restrict out, size_t OH,
    size_t OW, size_t KH, const size_t KW) {
    size_t oy = 0;
    for (; oy + 2 <= OH; oy += 2)
        dw_rows2(padded + oy * pitch, pitch, w, b, out + oy * OW, out + (oy + 1) * OW, OW, KH, KW);
    if (oy < OH) dw_row(padded + oy * pitch, pitch, w, b, out + oy * OW, OW, KH, KW);
}

MG_MULTIVERSION
void mg_depthwise_conv2d(const float *input, const float *weight, const float *bias, float *output,
                         size_t channels, const mg_conv_geometry *g, float *scratch) {
    const size_t H = g->height, W = g->width, KH = g->kernel_h, KW = g->kernel_w;
    const size_t SH = g->stride_h, SW = g->stride_w, PH = g->pad_h, PW = g->pad_w;
    const size_t OH = g->out_h, OW = g->out_w;
    const size_t pitch = W + 2 * PW;
    // The border of the padded plane stays zero; only the interior is rewritten per channel.
    memset(scratch, 0, mg_depthwise_scratch_floats(g) * sizeof(float));
    for (size_t c = 0; c < channels; c++) {
        const float *plane = input + c * H * W;
        for (size_t y = 0; y < H; y++) memcpy(scratch + (y + PH) * pitch + PW, plane + y * W, W * sizeof(float));
        const float *w = weight + c * KH * KW;
        const float b = bias ? bias[c] : 0.0f;
        float *out = output + c * OH * OW;
        if (SW == 1 && SH == 1) {
            switch (KW) {
            case 3: dw_plane_s1(scratch, pitch, w, b, out, OH, OW, KH, 3); break;
            case 5: dw_plane_s1(scratch, pitch, w, b, out, OH, OW, KH, 5); break;
            case 7: dw_plane_s1(scratch, pitch, w, b, out, OH, OW, KH, 7); break;
            default: dw_plane_s1(scratch, pitch, w, b, out, OH, OW, KH, KW); break;
            }
        } else {
            for (size_t oy = 0; oy < OH; oy++) {
                const float *rows = scratch + oy * SH * pitch;
                float *o = out + oy * OW;
                for (size_t ox = 0; ox < OW; ox++) {
                    float acc = b;
                    for (size_t ky = 0; ky < KH; ky++)
                        for (size_t kx = 0; kx < KW; kx++) acc += w[ky * KW + kx] * rows[ky * pitch + ox * SW + kx];
                    o[ox] = acc;
                }
            }
        }
    }
}

MG_MULTIVERSION
void mg_fill_rows_with_scalars(const float *values, float *out, size_t rows, size_t cols, size_t ld) {
    for (size_t r = 0; r < rows; r++) {
        const float v = values ? values[r] : 0.0f;
        float *restrict dst = out + r * ld;
        for (size_t c = 0; c < cols; c++) dst[c] = v;
    }
}

// fc1's epilogue in a channel-major ConvNeXt MLP: the bias is one value per row (hidden channel), and
// the exact GELU is the formula of mg_activation(MG_ACT_GELU_ERF), so this equals an add followed by
// gelu, in one pass over the hidden block instead of two (plus the second pass's fresh output).
MG_WIDE void bias_gelu_row(float *x, float b, size_t n) {
    MG_WIDE_LOOP for (size_t i = 0; i < n; i++) x[i] = mg_gelu_erf_scalar(x[i] + b);
}

MG_MULTIVERSION
void mg_bias_gelu_rows(float *x, const float *bias, size_t rows, size_t cols, size_t ld) {
    for (size_t r = 0; r < rows; r++) bias_gelu_row(x + r * ld, bias ? bias[r] : 0.0f, cols);
}

// The scalar reference of mg_bias_gelu_rows for the tier tests (no vectorisation pragmas).
void mg_bias_gelu_rows_reference(float *x, const float *bias, size_t rows, size_t cols, size_t ld) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) x[r * ld + c] = mg_gelu_erf_scalar(x[r * ld + c] + (bias ? bias[r] : 0.0f));
}

// Layout moves of the bf16-mode ConvNeXt MLP, whose packed products take pixel rows while the tower
// keeps channel-major maps: 16×16 tiles so both the strided reads and the strided writes stay within
// a few cache lines per tile.
enum { TILE = 16 };

MG_MULTIVERSION
void mg_columns_to_rows(const float *src, size_t ld, size_t channels, size_t first, size_t count, float *dst) {
    for (size_t j0 = first; j0 < first + count; j0 += TILE) {
        const size_t j1 = j0 + TILE < first + count ? j0 + TILE : first + count;
        for (size_t c0 = 0; c0 < channels; c0 += TILE) {
            const size_t c1 = c0 + TILE < channels ? c0 + TILE : channels;
            for (size_t j = j0; j < j1; j++) {
                float *restrict row = dst + j * channels;
                for (size_t c = c0; c < c1; c++) row[c] = src[c * ld + j];
            }
        }
    }
}

MG_MULTIVERSION
void mg_add_rows_to_columns(const float *rows, size_t channels, size_t count, size_t first_channel, size_t channel_count,
                            float *x, size_t ld) {
    const size_t end = first_channel + channel_count;
    for (size_t c0 = first_channel; c0 < end; c0 += TILE) {
        const size_t c1 = c0 + TILE < end ? c0 + TILE : end;
        for (size_t j0 = 0; j0 < count; j0 += TILE) {
            const size_t j1 = j0 + TILE < count ? j0 + TILE : count;
            for (size_t c = c0; c < c1; c++) {
                float *restrict column = x + c * ld;
                for (size_t j = j0; j < j1; j++) column[j] += rows[j * channels + c];
            }
        }
    }
}

MG_MULTIVERSION
void mg_layer_norm_channels_to_rows(const float *x, const float *w, const float *b, float *dst, size_t channels,
                                    size_t plane, size_t p_begin, size_t p_end, float eps, float *scratch) {
    enum { BLOCK = MG_LAYER_NORM_CHANNELS_BLOCK };
    for (size_t p0 = p_begin; p0 < p_end; p0 += BLOCK) {
        const size_t width = p_end - p0 < BLOCK ? p_end - p0 : BLOCK;
        // Statistics as mg_layer_norm_channels computes them (same order, same values).
        float mean[BLOCK], rstd[BLOCK];
        mg_channel_block_statistics(x, channels, plane, p0, width, BLOCK, eps, scratch, mean, rstd);
        // Normalised in place in the dense copy, then written out transposed tile by tile.
        mg_channel_block_normalize(scratch, channels, width, BLOCK, mean, rstd, w, b, scratch, BLOCK);
        float *out = dst + (p0 - p_begin) * channels;
        for (size_t j0 = 0; j0 < width; j0 += TILE) {
            const size_t j1 = j0 + TILE < width ? j0 + TILE : width;
            for (size_t c0 = 0; c0 < channels; c0 += TILE) {
                const size_t c1 = c0 + TILE < channels ? c0 + TILE : channels;
                for (size_t j = j0; j < j1; j++) {
                    float *restrict row = out + j * channels;
                    for (size_t c = c0; c < c1; c++) row[c] = scratch[c * BLOCK + j];
                }
            }
        }
    }
}
