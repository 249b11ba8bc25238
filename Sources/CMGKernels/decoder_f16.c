// Attention over a half-precision (IEEE F16) KV cache, as llama.cpp keeps its cache: keys and values
// are rounded once when they are written and widened in registers as the attention reads them, so
// a decode step streams half the bytes of the F32 cache and no F32 copy of the cache is ever made.
// Scores, the softmax and the weighted sum of values are F32, as in mg_decoder_attention (decoder.c).
//
// One copy per kernel tier, chosen per call from mg_kernel_tier(): AVX-512 (16 lanes) at the
// avx512 tiers and above, AVX2 (8 lanes) at avx2, both widening with F16C's vcvtph2ps
// (decoder_f16_simd.h); at the baseline (and for head widths that are not a multiple of the vector
// width) the portable body decoder.c runs over F32 rows, over halves widened exactly
// (decoder_rows.h).
//
// mg_decoder_attention_f16_part computes a decode row over a range of positions without the final
// normalisation, so one key/value head's positions can be split over threads and the parts merged
// (mg_decoder_attention_merge): Gemma's 8 query heads share one key/value head, and slicing the
// query heads instead made every thread read the whole cache.
#include "mg_decoder.h"
#include "mg_convert.h"
#include "mg_cpu_tier.h"
#include "decoder_rows.h"
#include <math.h>

#define PORTABLE_LANES 16
// Grouped heads: keys or values per tile (16 KB of halves at 256 wide), and how far ahead the key
// rows are prefetched (the value rows: one tile ahead). The prefetch lifted one thread's rate from
// DRAM from ~6 to ~8.5 GB/s (Gemma-2B shape, thread CPU, loaded machine); the single-head kernel
// keeps up with the memory without it and was slower with it.
#define GROUP_TILE_KEYS 32
#define PREFETCH_ROWS 16
#define PREFETCH_HINT _MM_HINT_T0

// Unnormalised softmax of `rows` rows of n scores in place: x = exp(x − max); stats[r] = the row's
// max (−inf for n = 0), stats[rows + r] = the sum of its exponentials. A part of the positions of
// a row (mg_decoder_attention_f16_part); the parts are weighted and normalised by the merge.
static void exp_rows(float *x, size_t rows, size_t n, float *stats) {
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * n;
        const float maximum = n ? mg_row_max(row, n) : -__builtin_inff();
        float lanes[PORTABLE_LANES] = {0};
        const size_t body = n - n % PORTABLE_LANES;
        for (size_t i = 0; i < body; i += PORTABLE_LANES)
            for (int l = 0; l < PORTABLE_LANES; l++) lanes[l] += row[i + l] = mg_exp_nonpositive(row[i + l] - maximum);
        float sum = 0;
        for (int l = 0; l < PORTABLE_LANES; l++) sum += lanes[l];
        for (size_t i = body; i < n; i++) sum += row[i] = mg_exp_nonpositive(row[i] - maximum);
        stats[r] = maximum;
        stats[rows + r] = sum;
    }
}
#define mg_exp_rows exp_rows

static void attention_f16_portable(const float *q, size_t q_stride, const uint16_t *keys, const uint16_t *values,
                                   size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                                   size_t past, size_t window, float scale, float *out, float *scratch) {
    mg_rows_attention(q, q_stride, keys, values, 1, head_dim, group, kv_head, t_begin, t_end, past, window, scale, out,
                      scratch);
}

// Portable group_rows (decoder_f16_simd.h): a part of the positions of one query row.
static void part_portable(const float *q, const uint16_t *keys, const uint16_t *values, size_t head_dim, size_t group,
                          size_t n, float scale, float *s, float *o, float *stats) {
    mg_rows_scores(q, keys, 1, head_dim, group, n, scale, s);
    exp_rows(s, group, n, stats);
    mg_rows_values(s, values, 1, head_dim, group, n, o);
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && !defined(MG_NO_MULTIVERSION)
#define F16_TIERS 1
#include <immintrin.h>

#define NAME(x) x##_avx512
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define VEC __m512
#define VLEN 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOADF(p) _mm512_loadu_ps(p)
#define VSTOREF(p, v) _mm512_storeu_ps(p, v)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VLOADH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VSTOREH(p, v) \
    _mm256_storeu_si256((__m256i *)(void *)(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC))
TARGET static inline __m256 fold_avx512(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}
TARGET static inline __m128 hsum4_avx512(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m256 ab = _mm256_hadd_ps(fold_avx512(a), fold_avx512(b)), cd = _mm256_hadd_ps(fold_avx512(c), fold_avx512(d));
    __m256 s = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}
#define HSUM4 hsum4_avx512
#define GROUP_HEADS 8
#define GROUP_COLS 16
#include "decoder_f16_simd.h"
#undef NAME
#undef TARGET
#undef VEC
#undef VLEN
#undef VZERO
#undef VSET1
#undef VLOADF
#undef VSTOREF
#undef VFMA
#undef VLOADH
#undef VSTOREH
#undef HSUM4
#undef GROUP_HEADS
#undef GROUP_COLS

#define NAME(x) x##_avx2
#define TARGET __attribute__((target("avx2,fma,f16c")))
#define VEC __m256
#define VLEN 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOADF(p) _mm256_loadu_ps(p)
#define VSTOREF(p, v) _mm256_storeu_ps(p, v)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VLOADH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define VSTOREH(p, v) _mm_storeu_si128((__m128i *)(void *)(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT))
TARGET static inline __m128 hsum4_avx2(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}
#define HSUM4 hsum4_avx2
#define GROUP_HEADS 4
#define GROUP_COLS 8
#include "decoder_f16_simd.h"
#endif

void mg_decoder_attention_f16_at(int tier, const float *q, size_t q_stride, const uint16_t *keys,
                                 const uint16_t *values, size_t head_dim, size_t group, size_t kv_head,
                                 size_t t_begin, size_t t_end, size_t past, size_t window, float scale,
                                 float *out, float *scratch) {
    if (tier > mg_kernel_tier_detected()) tier = mg_kernel_tier_detected();
#ifdef F16_TIERS
    if (tier >= MG_TIER_AVX512 && head_dim % 16 == 0) {
        return attention_avx512(q, q_stride, keys, values, head_dim, group, kv_head, t_begin, t_end, past, window,
                                scale, out, scratch);
    }
    if (tier >= MG_TIER_AVX2 && head_dim % 8 == 0) {
        return attention_avx2(q, q_stride, keys, values, head_dim, group, kv_head, t_begin, t_end, past, window,
                              scale, out, scratch);
    }
#endif
    attention_f16_portable(q, q_stride, keys, values, head_dim, group, kv_head, t_begin, t_end, past, window, scale,
                           out, scratch);
}

void mg_decoder_attention_f16(const float *q, size_t q_stride, const uint16_t *keys, const uint16_t *values,
                              size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                              size_t past, size_t window, float scale, float *out, float *scratch) {
    mg_decoder_attention_f16_at(mg_kernel_tier(), q, q_stride, keys, values, head_dim, group, kv_head, t_begin, t_end,
                                past, window, scale, out, scratch);
}

void mg_decoder_attention_f16_part_at(int tier, const float *q, const uint16_t *keys, const uint16_t *values,
                                      size_t head_dim, size_t group, size_t begin, size_t end, float scale,
                                      float *partial, float *scratch) {
    if (tier > mg_kernel_tier_detected()) tier = mg_kernel_tier_detected();
    const size_t n = end > begin ? end - begin : 0;
    float *o = partial, *stats = partial + group * head_dim;
    keys += begin * head_dim;
    values += begin * head_dim;
#ifdef F16_TIERS
    if (tier >= MG_TIER_AVX512 && head_dim % 16 == 0) {
        return group_rows_avx512(q, keys, values, head_dim, group, n, scale, scratch, o, stats);
    }
    if (tier >= MG_TIER_AVX2 && head_dim % 8 == 0) {
        return group_rows_avx2(q, keys, values, head_dim, group, n, scale, scratch, o, stats);
    }
#endif
    part_portable(q, keys, values, head_dim, group, n, scale, scratch, o, stats);
}

void mg_decoder_attention_f16_part(const float *q, const uint16_t *keys, const uint16_t *values, size_t head_dim,
                                   size_t group, size_t begin, size_t end, float scale, float *partial,
                                   float *scratch) {
    mg_decoder_attention_f16_part_at(mg_kernel_tier(), q, keys, values, head_dim, group, begin, end, scale, partial,
                                     scratch);
}

void mg_decoder_attention_merge(const float *const *partials, size_t parts, size_t group, size_t head_dim,
                                float *out) {
    for (size_t g = 0; g < group; g++) {
        float top = -__builtin_inff();
        for (size_t k = 0; k < parts; k++) {
            const float m = partials[k][group * head_dim + g];
            top = m > top ? m : top;
        }
        float weights[MG_DECODER_MAX_PARTS], total = 0;
        for (size_t k = 0; k < parts; k++) {
            const float *stats = partials[k] + group * head_dim;
            // An empty part (max −inf, sum 0) weighs nothing.
            weights[k] = stats[g] == -__builtin_inff() ? 0.0f : expf(stats[g] - top);
            total += weights[k] * stats[group + g];
        }
        const float inverse = 1.0f / total;
        float *restrict o = out + g * head_dim;
        for (size_t d = 0; d < head_dim; d++) {
            float sum = 0;
            for (size_t k = 0; k < parts; k++) sum += weights[k] * partials[k][g * head_dim + d];
            o[d] = sum * inverse;
        }
    }
}

void mg_kv_store_f16_at(int tier, const float *src, uint16_t *dst, size_t n) {
    if (tier > mg_kernel_tier_detected()) tier = mg_kernel_tier_detected();
#ifdef F16_TIERS
    if (tier >= MG_TIER_AVX512) return store_avx512(src, dst, n);
    if (tier >= MG_TIER_AVX2) return store_avx2(src, dst, n);
#else
    (void)tier;
#endif
    mg_f32_to_f16(src, dst, n);
}

void mg_kv_store_f16(const float *src, uint16_t *dst, size_t n) { mg_kv_store_f16_at(mg_kernel_tier(), src, dst, n); }
