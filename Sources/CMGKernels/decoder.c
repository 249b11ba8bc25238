// Decoder kernels: attention that reads the KV cache in place (with an optional sliding window) and
// the Mixtral expert scatter-add.
// Mirrors the eager attention of transformers' LlamaAttention: scores scaled by 1/sqrt(D), softmax
// in float32, probabilities times values.
#include "mg_decoder.h"
#include "mg_norm.h"
#include "pointwise_math.h"

// Dot product with 16 independent partial sums (a scalar float reduction would not vectorise).
static inline __attribute__((always_inline)) float dot(const float *restrict a, const float *restrict b, size_t n) {
    float lanes[MG_LANES] = {0};
    size_t body = n - n % MG_LANES;
    for (size_t i = 0; i < body; i += MG_LANES) {
        for (int l = 0; l < MG_LANES; l++) lanes[l] += a[i + l] * b[i + l];
    }
    float sum = 0;
    for (int l = 0; l < MG_LANES; l++) sum += lanes[l];
    for (size_t i = body; i < n; i++) sum += a[i] * b[i];
    return sum;
}

MG_MULTIVERSION
void mg_decoder_attention(const float *q, size_t q_stride, const float *keys, const float *values,
                          size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                          size_t past, size_t window, float scale, float *out, float *scratch) {
    for (size_t t = t_begin; t < t_end; t++) {
        size_t last = past + t;
        size_t first = (window > 0 && last + 1 > window) ? last + 1 - window : 0;
        size_t n = last - first + 1;
        const float *qt = q + t * q_stride + kv_head * group * head_dim;
        float *ot = out + t * q_stride + kv_head * group * head_dim;
        // Scores [group, n]: each key row is loaded once for all heads of the group.
        for (size_t j = 0; j < n; j++) {
            const float *k = keys + (first + j) * head_dim;
            for (size_t g = 0; g < group; g++) scratch[g * n + j] = scale * dot(qt + g * head_dim, k, head_dim);
        }
        mg_softmax_rows(scratch, scratch, group, n);
        for (size_t g = 0; g < group; g++) {
            float *restrict o = ot + g * head_dim;
            for (size_t d = 0; d < head_dim; d++) o[d] = 0;
        }
        for (size_t j = 0; j < n; j++) {
            const float *restrict v = values + (first + j) * head_dim;
            for (size_t g = 0; g < group; g++) {
                float *restrict o = ot + g * head_dim;
                float p = scratch[g * n + j];
                for (size_t d = 0; d < head_dim; d++) o[d] += p * v[d];
            }
        }
    }
}

MG_MULTIVERSION
void mg_decoder_scatter_add(float *out, const float *y, const int64_t *rows, const float *weights,
                            size_t count, size_t dim) {
    for (size_t i = 0; i < count; i++) {
        float *restrict o = out + (size_t)rows[i] * dim;
        const float *restrict src = y + i * dim;
        float w = weights[i];
        for (size_t d = 0; d < dim; d++) o[d] += w * src[d];
    }
}
