#ifndef MG_CONV_H
#define MG_CONV_H
#include "mg_common.h"
#include "mg_norm.h"

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

/// In place, for `rows` rows of `cols` floats `ld` apart: `x = gelu(x + bias[row])` with the exact
/// (erf) GELU of mg_activation(MG_ACT_GELU_ERF); `bias` may be NULL. `_reference` is the plain scalar
/// loop the tier tests compare against.
void mg_bias_gelu_rows(float *x, const float *bias, size_t rows, size_t cols, size_t ld);
void mg_bias_gelu_rows_reference(float *x, const float *bias, size_t rows, size_t cols, size_t ld);

/// Pixel rows from a channel-major map: `dst[j][c] = src[c·ld + j]` for `c < channels` and
/// `j` in `first ..< first + count`.
void mg_columns_to_rows(const float *src, size_t ld, size_t channels, size_t first, size_t count, float *dst);

/// The channels-first LayerNorm of mg_layer_norm_channels (same arithmetic, same values) written as
/// pixel rows: `dst[j − p_begin][c]` = the normalised channel `c` of pixel `j`, for `j` in
/// `p_begin ..< p_end` of one `[channels, plane]` image. Fuses the bf16 mode's LayerNorm2d with its
/// gathering of pixel rows (one pass over the map instead of two). `scratch` holds
/// channels × MG_LAYER_NORM_CHANNELS_BLOCK floats.
void mg_layer_norm_channels_to_rows(const float *x, const float *w, const float *b, float *dst, size_t channels,
                                    size_t plane, size_t p_begin, size_t p_end, float eps, float *scratch);

/// Adds pixel rows into a channel-major map: `x[c·ld + j] += rows[j·channels + c]` for `j < count` and
/// `c` in `first_channel ..< first_channel + channel_count`.
void mg_add_rows_to_columns(const float *rows, size_t channels, size_t count, size_t first_channel, size_t channel_count,
                            float *x, size_t ld);

#endif
