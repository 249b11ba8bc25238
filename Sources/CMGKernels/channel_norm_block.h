// LayerNorm2d statistics of one block of pixels, shared by mg_layer_norm_channels (norm.c) and
// mg_layer_norm_channels_to_rows (conv.c), whose outputs must stay bit-identical to each other.
#ifndef MG_CHANNEL_NORM_BLOCK_H
#define MG_CHANNEL_NORM_BLOCK_H

#include <stddef.h>

/// Copies the `channels` rows of pixels [p0, p0 + width) of a channel-major map (rows `plane`
/// apart) into the dense `scratch` block (row c at `scratch + c * block`) and sets each pixel's mean
/// and reciprocal standard deviation over the channels. The rows sit a whole plane apart, usually a
/// multiple of 4 KiB, so they collide in the same cache sets: each is read once into the dense
/// block, and the statistics passes run there, vectorised across pixels, with no permute.
/// Always inlined so it is compiled for the instruction set of each clone of its caller.
static inline __attribute__((always_inline)) void mg_channel_block_statistics(
    const float *x, size_t channels, size_t plane, size_t p0, size_t width, size_t block, float eps, float *scratch,
    float *mean, float *rstd) {
    const float inverse_count = 1.0f / (float)channels;
    for (size_t j = 0; j < width; j++) mean[j] = 0.0f;
    for (size_t c = 0; c < channels; c++) {
        const float *restrict row = x + c * plane + p0;
        float *restrict copy = scratch + c * block;
        for (size_t j = 0; j < width; j++) {
            copy[j] = row[j];
            mean[j] += row[j];
        }
    }
    for (size_t j = 0; j < width; j++) {
        mean[j] *= inverse_count;
        rstd[j] = 0.0f;
    }
    for (size_t c = 0; c < channels; c++) {
        const float *restrict copy = scratch + c * block;
        for (size_t j = 0; j < width; j++) {
            const float d = copy[j] - mean[j];
            rstd[j] += d * d;
        }
    }
    for (size_t j = 0; j < width; j++) rstd[j] = 1.0f / __builtin_sqrtf(rstd[j] * inverse_count + eps);
}

/// Writes the normalised block, `(x − mean) · rstd · w + b` per channel row of `scratch`, to `out`
/// (row c at `out + c * out_stride`; `out` may be `scratch` itself with `out_stride == block`).
/// `w`/`b` may be NULL (1 and 0).
static inline __attribute__((always_inline)) void mg_channel_block_normalize(
    const float *scratch, size_t channels, size_t width, size_t block, const float *mean, const float *rstd,
    const float *w, const float *b, float *out, size_t out_stride) {
    for (size_t c = 0; c < channels; c++) {
        const float *copy = scratch + c * block;
        float *row = out + c * out_stride;
        const float wc = w ? w[c] : 1.0f, bc = b ? b[c] : 0.0f;
        for (size_t j = 0; j < width; j++) row[j] = (copy[j] - mean[j]) * rstd[j] * wc + bc;
    }
}

#endif
