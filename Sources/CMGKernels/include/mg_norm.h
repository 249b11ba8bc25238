#ifndef MG_NORM_H
#define MG_NORM_H
#include "mg_common.h"

/// Numerically stable softmax of each of `rows` contiguous rows of length `n`: y = exp(x − max) / Σ.
/// A row containing NaN or +inf gives NaN (as PyTorch); −inf entries give 0. `y` may equal `x`.
void mg_softmax_rows(const float *x, float *y, size_t rows, size_t n);

/// Softmax over the middle axis of [outer, n, inner] for the work units [unit_begin, unit_end),
/// where a unit is one outer index and a block of up to 256 inner columns
/// (units per outer index: mg_softmax_strided_blocks(inner)).
void mg_softmax_strided(const float *x, float *y, size_t outer, size_t n, size_t inner,
                        size_t unit_begin, size_t unit_end);
/// The number of inner-column blocks mg_softmax_strided splits `inner` into.
size_t mg_softmax_strided_blocks(size_t inner);

/// LayerNorm of `rows` rows of length `n`: (x − mean)·rsqrt(var + eps)·w + b, with the biased
/// variance computed around the mean (two passes). `w` and `b` may each be NULL (1 and 0).
void mg_layer_norm_rows(const float *x, const float *w, const float *b, float *y, size_t rows, size_t n,
                        float eps);

/// Pixels per block of mg_layer_norm_channels; its scratch holds channels × this many floats.
#define MG_LAYER_NORM_CHANNELS_BLOCK 256

/// Channels-first LayerNorm of one [channels, plane] image (NCHW with plane = H·W): every pixel is
/// normalised over the channel axis and scaled by w[c], shifted by b[c] (either may be NULL).
/// Only pixels [p_begin, p_end) are processed, so callers can split the plane across threads.
/// `scratch` must hold channels × MG_LAYER_NORM_CHANNELS_BLOCK floats.
void mg_layer_norm_channels(const float *x, const float *w, const float *b, float *y, size_t channels,
                            size_t plane, size_t p_begin, size_t p_end, float eps, float *scratch);

/// RMSNorm as in Hugging Face LLaMA/Gemma: r = rsqrt(mean(x²) + eps); y = (x·r)·w, or
/// (x·r)·(1 + w) when `unit_offset` is non-zero (Gemma). `w` may be NULL (plain x·r).
void mg_rms_norm_rows(const float *x, const float *w, float *y, size_t rows, size_t n, float eps,
                      int unit_offset);

#endif
