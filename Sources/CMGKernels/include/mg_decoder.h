#ifndef MG_DECODER_H
#define MG_DECODER_H
#include "mg_common.h"

/// Causal attention of new queries against a KV cache, for query positions [t_begin, t_end) of
/// key/value head `kv_head`, all `group` query heads that share it.
///
/// - `q`: [T, Hq, D] (row stride `q_stride` = Hq·D); query head of group member g is kv_head·group + g.
/// - `keys`, `values`: this layer's cache of one kv head, [capacity, D], positions 0 ..< past + T filled.
/// - Query t sits at position past + t and sees keys past + t − window + 1 ... past + t
///   (all earlier keys when `window` is 0).
/// - `out`: [T, Hq, D], same layout as `q`.
/// - `scratch`: at least group · (past + t_end) floats.
void mg_decoder_attention(const float *q, size_t q_stride, const float *keys, const float *values,
                          size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                          size_t past, size_t window, float scale, float *out, float *scratch);

/// Scatter-add of expert outputs: out[rows[i]] += weights[i] · y[i] for i < count ([count, dim] y).
void mg_decoder_scatter_add(float *out, const float *y, const int64_t *rows, const float *weights,
                            size_t count, size_t dim);

#endif
