// Attention over a half-precision (IEEE F16) KV cache, as llama.cpp keeps its cache: keys and values
// are rounded once when they are written and widened in registers as the attention reads them, so
// a decode step streams half the bytes of the F32 cache and no F32 copy of the cache is ever made.
// Scores, the softmax and the weighted sum of values are F32, as in mg_decoder_attention (decoder.c),
// whose structure this follows: one query row at a time, the group's query heads against each key.
//
// One copy per kernel tier, chosen per call from mg_kernel_tier(): AVX-512 (16 lanes) at the
// avx512 tiers and above, AVX2 (8 lanes) at avx2, both widening with F16C's vcvtph2ps; portable C
// with an exact bit-level widening at the baseline (and for head widths that are not a multiple
// of the vector width).
#include "mg_decoder.h"
#include "mg_convert.h"
#include "mg_cpu_tier.h"
#include "mg_norm.h"
#include "half_widen.h"

#define PORTABLE_LANES 16
#define TILE_KEYS 16
#define TILE_MAX_DIM 512

static inline float dot_f16(const float *restrict a, const uint16_t *restrict b, size_t n) {
    float lanes[PORTABLE_LANES] = {0};
    size_t body = n - n % PORTABLE_LANES;
    for (size_t i = 0; i < body; i += PORTABLE_LANES) {
        for (int l = 0; l < PORTABLE_LANES; l++) lanes[l] += a[i + l] * mg_f16_widen(b[i + l]);
    }
    float sum = 0;
    for (int l = 0; l < PORTABLE_LANES; l++) sum += lanes[l];
    for (size_t i = body; i < n; i++) sum += a[i] * mg_f16_widen(b[i]);
    return sum;
}

static void attention_f16_portable(const float *q, size_t q_stride, const uint16_t *keys, const uint16_t *values,
                                   size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                                   size_t past, size_t window, float scale, float *out, float *scratch) {
    for (size_t t = t_begin; t < t_end; t++) {
        size_t last = past + t;
        size_t first = (window > 0 && last + 1 > window) ? last + 1 - window : 0;
        size_t n = last - first + 1;
        const float *qt = q + t * q_stride + kv_head * group * head_dim;
        float *ot = out + t * q_stride + kv_head * group * head_dim;
        for (size_t j = 0; j < n; j++) {
            const uint16_t *k = keys + (first + j) * head_dim;
            for (size_t g = 0; g < group; g++) scratch[g * n + j] = scale * dot_f16(qt + g * head_dim, k, head_dim);
        }
        mg_softmax_rows(scratch, scratch, group, n);
        for (size_t g = 0; g < group; g++) {
            float *restrict o = ot + g * head_dim;
            for (size_t d = 0; d < head_dim; d++) o[d] = 0;
        }
        for (size_t j = 0; j < n; j++) {
            const uint16_t *restrict v = values + (first + j) * head_dim;
            for (size_t g = 0; g < group; g++) {
                float *restrict o = ot + g * head_dim;
                float p = scratch[g * n + j];
                for (size_t d = 0; d < head_dim; d++) o[d] += p * mg_f16_widen(v[d]);
            }
        }
    }
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
