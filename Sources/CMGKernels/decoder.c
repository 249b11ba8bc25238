// Decoder kernels: attention that reads the KV cache in place (with an optional sliding window) and
// the Mixtral expert scatter-add.
// Mirrors the eager attention of transformers' LlamaAttention: scores scaled by 1/sqrt(D), softmax
// in float32, probabilities times values.
#include "mg_decoder.h"
#include "decoder_rows.h"

MG_MULTIVERSION
void mg_decoder_attention(const float *q, size_t q_stride, const float *keys, const float *values,
                          size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                          size_t past, size_t window, float scale, float *out, float *scratch) {
    mg_rows_attention(q, q_stride, keys, values, 0, head_dim, group, kv_head, t_begin, t_end, past, window, scale, out,
                      scratch);
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
