#ifndef MG_CONV_H
#define MG_CONV_H
#include "mg_common.h"

/// Geometry of one 2-D convolution over a single image plane set (NCHW, one batch element).
typedef struct {
    size_t height, width;          ///< input plane size
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;
    size_t pad_h, pad_w;
    size_t out_h, out_w;
} mg_conv_geometry;

/// im2col for output rows [row_begin, row_end) of all positions: fills rows
/// [k_begin, k_end) of the column matrix `cols` (row length `ld`, one column per output position
/// of the selected output rows), where row k = (c, ky, kx) of the `channels`-channel input.
/// Out-of-image taps read as zero.
void mg_im2col(const float *input, float *cols, size_t ld, const mg_conv_geometry *g,
               size_t k_begin, size_t k_end, size_t row_begin, size_t row_end);

/// Depthwise convolution of `channels` planes: plane c of `input` convolved with kernel
/// `weight + c*kh*kw`, plus `bias[c]` when bias is not NULL, written to plane c of `output`.
/// `scratch` must hold mg_depthwise_scratch_floats(g) floats.
void mg_depthwise_conv2d(const float *input, const float *weight, const float *bias, float *output,
                         size_t channels, const mg_conv_geometry *g, float *scratch);

/// Scratch floats needed by mg_depthwise_conv2d for geometry `g` (one zero-padded plane).
size_t mg_depthwise_scratch_floats(const mg_conv_geometry *g);

/// Fills each of `rows` rows (length `cols`, stride `ld`) of `out` with `values[r]`.
void mg_fill_rows_with_scalars(const float *values, float *out, size_t rows, size_t cols, size_t ld);

#endif
