// Softmax and normalisation kernels. Float reductions use MG_LANES explicit partial sums so they
// vectorise without -ffast-math; the exp is the polynomial of pointwise_math.h.
#include "mg_norm.h"
#include "channel_norm_block.h"
#include "pointwise_math.h"

static inline float row_sum(const float *x, size_t n) {
    float lanes[MG_LANES] = {0};
    const size_t body = n - n % MG_LANES;
    for (size_t i = 0; i < body; i += MG_LANES)
        for (int l = 0; l < MG_LANES; l++) lanes[l] += x[i + l];
    float sum = 0;
    for (int l = 0; l < MG_LANES; l++) sum += lanes[l];
    for (size_t i = body; i < n; i++) sum += x[i];
    return sum;
}

static inline float row_centered_squares(const float *x, size_t n, float mean) {
    float lanes[MG_LANES] = {0};
    const size_t body = n - n % MG_LANES;
    for (size_t i = 0; i < body; i += MG_LANES)
        for (int l = 0; l < MG_LANES; l++) {
            const float d = x[i + l] - mean;
            lanes[l] += d * d;
        }
    float sum = 0;
    for (int l = 0; l < MG_LANES; l++) sum += lanes[l];
    for (size_t i = body; i < n; i++) {
        const float d = x[i] - mean;
        sum += d * d;
    }
    return sum;
}

MG_WIDE void softmax_rows_body(const float *x, float *y, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * n;
        float *out = y + r * n;
        // NaN or +inf anywhere makes every x − max NaN, so the row becomes NaN like PyTorch's.
        const float maximum = mg_row_max(in, n);
        MG_WIDE_LOOP for (size_t i = 0; i < n; i++) out[i] = mg_exp_nonpositive(in[i] - maximum);
        const float inverse = 1.0f / row_sum(out, n);
        MG_WIDE_LOOP for (size_t i = 0; i < n; i++) out[i] *= inverse;
    }
}

MG_MULTIVERSION
void mg_softmax_rows(const float *x, float *y, size_t rows, size_t n) { softmax_rows_body(x, y, rows, n); }

enum { STRIDED_BLOCK = 256 };

size_t mg_softmax_strided_blocks(size_t inner) { return (inner + STRIDED_BLOCK - 1) / STRIDED_BLOCK; }

MG_WIDE void softmax_strided_body(const float *x, float *y, size_t n, size_t inner, size_t unit_begin,
                                  size_t unit_end) {
    const size_t blocks = mg_softmax_strided_blocks(inner);
    for (size_t unit = unit_begin; unit < unit_end; unit++) {
        const size_t o = unit / blocks, j0 = (unit % blocks) * STRIDED_BLOCK;
        const size_t w = inner - j0 < STRIDED_BLOCK ? inner - j0 : STRIDED_BLOCK;
        const float *in = x + o * n * inner + j0;
        float *out = y + o * n * inner + j0;
        // Columns are independent, so each loop runs across the block's columns (contiguous).
        float maximum[STRIDED_BLOCK], sum[STRIDED_BLOCK];
        int nan_seen[STRIDED_BLOCK];
        for (size_t j = 0; j < w; j++) {
            maximum[j] = -__builtin_inff();
            sum[j] = 0.0f;
            nan_seen[j] = 0;
        }
        for (size_t a = 0; a < n; a++) {
            const float *row = in + a * inner;
            for (size_t j = 0; j < w; j++) {
                maximum[j] = row[j] > maximum[j] ? row[j] : maximum[j];
                nan_seen[j] |= row[j] != row[j];
            }
        }
        for (size_t j = 0; j < w; j++) maximum[j] = nan_seen[j] ? __builtin_nanf("") : maximum[j];
        for (size_t a = 0; a < n; a++) {
            const float *row = in + a * inner;
            float *dst = out + a * inner;
            MG_WIDE_LOOP for (size_t j = 0; j < w; j++) {
                const float e = mg_exp_nonpositive(row[j] - maximum[j]);
                dst[j] = e;
                sum[j] += e;
            }
        }
        for (size_t j = 0; j < w; j++) sum[j] = 1.0f / sum[j];
        for (size_t a = 0; a < n; a++) {
            float *dst = out + a * inner;
            for (size_t j = 0; j < w; j++) dst[j] *= sum[j];
        }
    }
}

MG_MULTIVERSION
void mg_softmax_strided(const float *x, float *y, size_t outer, size_t n, size_t inner,
                        size_t unit_begin, size_t unit_end) {
    (void)outer;
    softmax_strided_body(x, y, n, inner, unit_begin, unit_end);
}

MG_MULTIVERSION
void mg_layer_norm_rows(const float *x, const float *w, const float *b, float *y, size_t rows, size_t n,
                        float eps) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * n;
        float *out = y + r * n;
        const float mean = row_sum(in, n) / (float)n;
        const float variance = row_centered_squares(in, n, mean) / (float)n;
        const float rstd = 1.0f / __builtin_sqrtf(variance + eps);
        if (w && b) {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] - mean) * rstd * w[i] + b[i];
        } else if (w) {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] - mean) * rstd * w[i];
        } else if (b) {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] - mean) * rstd + b[i];
        } else {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] - mean) * rstd;
        }
    }
}

MG_MULTIVERSION
void mg_layer_norm_channels(const float *x, const float *w, const float *b, float *y, size_t channels,
                            size_t plane, size_t p_begin, size_t p_end, float eps, float *scratch) {
    enum { BLOCK = MG_LAYER_NORM_CHANNELS_BLOCK };
    for (size_t p0 = p_begin; p0 < p_end; p0 += BLOCK) {
        const size_t width = p_end - p0 < BLOCK ? p_end - p0 : BLOCK;
        float mean[BLOCK], rstd[BLOCK];
        mg_channel_block_statistics(x, channels, plane, p0, width, BLOCK, eps, scratch, mean, rstd);
        mg_channel_block_normalize(scratch, channels, width, BLOCK, mean, rstd, w, b, y + p0, plane);
    }
}

MG_MULTIVERSION
void mg_rms_norm_rows(const float *x, const float *w, float *y, size_t rows, size_t n, float eps,
                      int unit_offset) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * n;
        float *out = y + r * n;
        float lanes[MG_LANES] = {0};
        const size_t body = n - n % MG_LANES;
        for (size_t i = 0; i < body; i += MG_LANES)
            for (int l = 0; l < MG_LANES; l++) lanes[l] += in[i + l] * in[i + l];
        float sum = 0;
        for (int l = 0; l < MG_LANES; l++) sum += lanes[l];
        for (size_t i = body; i < n; i++) sum += in[i] * in[i];
        const float scale = 1.0f / __builtin_sqrtf(sum / (float)n + eps);
        if (!w) {
            for (size_t i = 0; i < n; i++) out[i] = in[i] * scale;
        } else if (unit_offset) {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] * scale) * (1.0f + w[i]);
        } else {
            for (size_t i = 0; i < n; i++) out[i] = (in[i] * scale) * w[i];
        }
    }
}
