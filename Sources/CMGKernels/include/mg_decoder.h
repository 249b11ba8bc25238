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

/// mg_decoder_attention over a half-precision cache: `keys` and `values` are IEEE half (raw
/// uint16), widened in registers as they are read (F16C on the avx2 tier and above, a portable
/// conversion at the baseline), with scores, softmax and the weighted sum of values in F32. Same
/// parameters, layout and scratch as mg_decoder_attention. Runs at mg_kernel_tier().
void mg_decoder_attention_f16(const float *q, size_t q_stride, const uint16_t *keys, const uint16_t *values,
                              size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                              size_t past, size_t window, float scale, float *out, float *scratch);
/// mg_decoder_attention_f16 at a given kernel tier (mg_cpu_tier.h; lowered to what the CPU has), for
/// tests that compare every tier in one process.
void mg_decoder_attention_f16_at(int tier, const float *q, size_t q_stride, const uint16_t *keys,
                                 const uint16_t *values, size_t head_dim, size_t group, size_t kv_head,
                                 size_t t_begin, size_t t_end, size_t past, size_t window, float scale,
                                 float *out, float *scratch);

/// Most parts mg_decoder_attention_merge combines.
#define MG_DECODER_MAX_PARTS 64

/// One part of a single query row's attention over a half-precision cache, for splitting the
/// positions of one key/value head over threads (a decode step with fewer key/value heads than
/// threads, e.g. Gemma's one): the `group` query heads at `q` (consecutive rows of `head_dim`)
/// against cached positions [begin, end) of `keys` and `values` ([capacity, D] halves). Writes
/// `partial` (group · (head_dim + 2) floats): the unnormalised Σ exp(s − max)·v per head, then each
/// head's max score, then each head's sum of exp(s − max). `scratch`: group · (end − begin) floats.
/// Runs at mg_kernel_tier().
void mg_decoder_attention_f16_part(const float *q, const uint16_t *keys, const uint16_t *values, size_t head_dim,
                                   size_t group, size_t begin, size_t end, float scale, float *partial,
                                   float *scratch);
/// mg_decoder_attention_f16_part at a given kernel tier, for tests.
void mg_decoder_attention_f16_part_at(int tier, const float *q, const uint16_t *keys, const uint16_t *values,
                                      size_t head_dim, size_t group, size_t begin, size_t end, float scale,
                                      float *partial, float *scratch);
/// The attention output of `group` heads (`out`: consecutive rows of `head_dim`) from `parts`
/// (≤ MG_DECODER_MAX_PARTS) partials of mg_decoder_attention_f16_part that cover the positions.
void mg_decoder_attention_merge(const float *const *partials, size_t parts, size_t group, size_t head_dim,
                                float *out);

/// Rounds `n` floats to IEEE half (nearest even, overflow to inf) into `dst`: how keys and values
/// enter a half-precision cache. Bit-identical at every tier for finite inputs and infinities
/// (NaN stays NaN). Runs at mg_kernel_tier().
void mg_kv_store_f16(const float *src, uint16_t *dst, size_t n);
/// mg_kv_store_f16 at a given kernel tier, for tests.
void mg_kv_store_f16_at(int tier, const float *src, uint16_t *dst, size_t n);

/// Scatter-add of expert outputs: out[rows[i]] += weights[i] · y[i] for i < count ([count, dim] y).
void mg_decoder_scatter_add(float *out, const float *y, const int64_t *rows, const float *weights,
                            size_t count, size_t dim);

#endif
