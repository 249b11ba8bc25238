#ifndef MG_IMAGE_RESAMPLE_H
#define MG_IMAGE_RESAMPLE_H
// Pillow's BICUBIC resize of 8-bit RGB images, reproduced bit for bit (Pillow's Resample.c as
// described in the MGM reference, §2.2): separable passes with fixed-point weights of 22 fractional
// bits, the horizontal pass first, a uint8 intermediate image, anti-aliasing when downscaling.
// Swift computes the two coefficient tables once and runs the passes on row ranges in parallel.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Taps per output sample along an axis resized from `in_size` to `out_size` (both positive):
/// `2·ceil(support) + 1` with support = 2·max(in/out, 1).
int32_t mg_bicubic_taps(int32_t in_size, int32_t out_size);

/// Fills `bounds` (2·out_size: first input index, number of taps) and `weights` (out_size·taps,
/// zero-padded) with Pillow's normalised bicubic weights in fixed point.
void mg_bicubic_coefficients(int32_t in_size, int32_t out_size, int32_t taps, int32_t *bounds, int32_t *weights);

/// Horizontal pass on rows [row_begin, row_end): `source` is in_width×rows RGB8, `destination`
/// out_width×rows RGB8 (both tightly packed, same row indices).
void mg_bicubic_horizontal_rgb8(const uint8_t *source, int32_t in_width, uint8_t *destination, int32_t out_width,
                                int32_t row_begin, int32_t row_end, int32_t taps, const int32_t *bounds,
                                const int32_t *weights);

/// Vertical pass producing output rows [row_begin, row_end) of width `width` from `source`.
void mg_bicubic_vertical_rgb8(const uint8_t *source, int32_t width, uint8_t *destination, int32_t row_begin,
                              int32_t row_end, int32_t taps, const int32_t *bounds, const int32_t *weights);

/// The normalised value of every byte per channel, as HF's image processor computes it:
/// `v = (float)(byte · scale)` with the product in double, then `(v − mean[c]) / std[c]` in float.
/// `table` receives 3·256 floats, channel-major.
void mg_normalization_table(double scale, const float mean[3], const float std[3], float *table);

/// Converts rows [row_begin, row_end) of an RGB8 region to normalised CHW planes through `table`.
/// `source` points at the region's top-left pixel; `source_stride` is the byte distance between rows;
/// plane c of `destination` starts at `destination + c·height·width`.
void mg_rgb8_to_normalized_chw(const uint8_t *source, size_t source_stride, int32_t width, int32_t height,
                               int32_t row_begin, int32_t row_end, const float *table, float *destination);

#ifdef __cplusplus
}
#endif
#endif
