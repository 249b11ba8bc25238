// Vector tiles of the quantized dot products: one weight row against up to QD_MAX_TOKENS activation
// rows, so each weight block is loaded and decoded once per tile. Included once per tier by
// quant_dot_<tier>.c, which first defines
//   QD_TARGET     the clang target string the whole file is compiled for,
//   QD_TILE_NAME  the exported tile function (declared in quant_dot_internal.h),
//   QD_DOT        0 = AVX2 maddubs/madd, 1 = AVX-VNNI (VEX), 2 = AVX-512-VNNI on 256-bit vectors (EVEX).
// All tiers use 256-bit vectors: a Q8_0/Q4_0 block is exactly one, and Zen 4 splits 512-bit
// integer ops in two anyway. Integer sums are exact in every tier, so tiers differ from the scalar
// reference only in the order of the float additions.
#include "quant_dot_internal.h"
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target(QD_TARGET))), apply_to = function)

#define QD_INLINE static inline __attribute__((always_inline))

/// acc + Σ of 4 adjacent u8·s8 products per int32 lane. The AVX2 form goes through saturating
/// int16 pairs, safe here because one operand is at most 15 (Q4_0 nibbles) or |x|·|w| ≤ 128·127.
QD_INLINE __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if QD_DOT == 2
    return _mm256_dpbusd_epi32(acc, u, s);
#elif QD_DOT == 1
    return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

/// acc + Σ of 2 adjacent int16 products per int32 lane.
QD_INLINE __m256i dot_s16(__m256i acc, __m256i a, __m256i b) {
#if QD_DOT == 2
    return _mm256_dpwssd_epi32(acc, a, b);
#elif QD_DOT == 1
    return _mm256_dpwssd_avx_epi32(acc, a, b);
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

QD_INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

QD_INLINE __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// Two accumulators per token (even and odd blocks) so a single-token GEMV is not bound by the
// latency of one chain of multiply-adds.

// ---- Q8_0 × Q8_0: |w| · (x with w's sign), exact in int16 pairs --------------------------------
QD_INLINE void tile_q8_0(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, float *out) {
    const size_t nb = n / 32;
    __m256 acc[QD_MAX_TOKENS][2];
    const float *xd[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
    }
#define Q8_0_BLOCK(B, SLOT)                                                                        \
    do {                                                                                           \
        const uint8_t *block = w + 34 * (B);                                                       \
        const __m256i wq = load256(block + 2);                                                     \
        const __m256i wabs = _mm256_abs_epi8(wq);                                                  \
        const __m256 dw = _mm256_set1_ps(qd_half(block));                                          \
        for (int t = 0; t < T; t++) {                                                              \
            __m256i xv = _mm256_sign_epi8(load256(xs[t] + 32 * (B)), wq);                          \
            __m256i sum = dot_u8s8(_mm256_setzero_si256(), wabs, xv);                              \
            __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(xd[t][B]));                            \
            acc[t][SLOT] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[t][SLOT]);          \
        }                                                                                          \
    } while (0)
    size_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        Q8_0_BLOCK(b, 0);
        Q8_0_BLOCK(b + 1, 1);
    }
    if (b < nb) Q8_0_BLOCK(b, 0);
#undef Q8_0_BLOCK
    for (int t = 0; t < T; t++) out[t] = hsum(_mm256_add_ps(acc[t][0], acc[t][1]));
}

// ---- Q4_0 × Q8_0: unsigned nibbles · x, the −8 offset folded in as −Σx spread over 8 lanes -----
QD_INLINE void tile_q4_0(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, float *out) {
    const size_t nb = n / 32;
    const __m128i low4 = _mm_set1_epi8(0xF);
    __m256 acc[QD_MAX_TOKENS][2];
    const float *xd[QD_MAX_TOKENS];
    const int32_t *xsum[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        xsum[t] = (const int32_t *)(xs[t] + qd_sum_offset(QD_Q4_0, n));
    }
#define Q4_0_BLOCK(B, SLOT)                                                                        \
    do {                                                                                           \
        const uint8_t *block = w + 18 * (B);                                                       \
        const __m128i packed = _mm_loadu_si128((const __m128i *)(block + 2));                      \
        const __m256i wq = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low4),        \
                                            _mm_and_si128(packed, low4));                          \
        const __m256 dw = _mm256_set1_ps(qd_half(block));                                          \
        for (int t = 0; t < T; t++) {                                                              \
            __m256i sum = dot_u8s8(_mm256_set1_epi32(-xsum[t][B]), wq, load256(xs[t] + 32 * (B))); \
            __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(xd[t][B]));                            \
            acc[t][SLOT] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[t][SLOT]);          \
        }                                                                                          \
    } while (0)
    size_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        Q4_0_BLOCK(b, 0);
        Q4_0_BLOCK(b + 1, 1);
    }
    if (b < nb) Q4_0_BLOCK(b, 0);
#undef Q4_0_BLOCK
    for (int t = 0; t < T; t++) out[t] = hsum(_mm256_add_ps(acc[t][0], acc[t][1]));
}

// ---- Q4_K × Q8_K: per sub-block of 32, nibble·x pairs (int16) times the 6-bit scale; the mins
// meet the activation's 16-value sums once per super-block ---------------------------------------
QD_INLINE void tile_q4_K(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, float *out) {
    const size_t nb = n / 256;
    const __m256i low4 = _mm256_set1_epi8(0xF);
    __m256 acc[QD_MAX_TOKENS];
    const float *xd[QD_MAX_TOKENS];
    const int16_t *bsums[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        bsums[t] = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q4_K, n));
    }
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *block = w + 144 * b;
        const uint8_t *qs = block + 16;
        // The 12 scale bytes as three words: 6-bit scales/mins of sub-blocks 0–3 in the low bits of
        // words 0/1, those of 4–7 split between word 2's nibbles and the top 2 bits of words 0/1.
        uint32_t packed_scales[3];
        memcpy(packed_scales, block + 4, 12);
        const uint32_t a = packed_scales[0], m = packed_scales[1], c = packed_scales[2];
        const uint64_t scales8 = (uint64_t)(a & 0x3f3f3f3fu)
            | (uint64_t)((c & 0x0f0f0f0fu) | (((a >> 6) & 0x03030303u) << 4)) << 32;
        const uint64_t mins8 = (uint64_t)(m & 0x3f3f3f3fu)
            | (uint64_t)(((c >> 4) & 0x0f0f0f0fu) | (((m >> 6) & 0x03030303u) << 4)) << 32;
        const __m128i mins_bytes = _mm_cvtsi64_si128((long long)mins8);
        const __m256i min16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins_bytes, mins_bytes));
        const __m256i scale16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)scales8)));
        __m256i sum[QD_MAX_TOKENS];
        for (int t = 0; t < T; t++) sum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i packed = load256(qs + 32 * j);
            const __m256i lo = _mm256_and_si256(packed, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
            const __m256i scale_lo = _mm256_shuffle_epi8(scale16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j))));
            const __m256i scale_hi = _mm256_shuffle_epi8(scale16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1))));
            for (int t = 0; t < T; t++) {
                const int8_t *x = (const int8_t *)xs[t] + 256 * b + 64 * j;
                sum[t] = dot_s16(sum[t], _mm256_maddubs_epi16(lo, load256(x)), scale_lo);
                sum[t] = dot_s16(sum[t], _mm256_maddubs_epi16(hi, load256(x + 32)), scale_hi);
            }
        }
        const float d = qd_half(block), dmin = qd_half(block + 2);
        for (int t = 0; t < T; t++) {
            __m256i minsum = _mm256_madd_epi16(load256(bsums[t] + 16 * b), min16);
            float dx = xd[t][b];
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), _mm256_set1_ps(d * dx), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(minsum), _mm256_set1_ps(dmin * dx), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) out[t] = hsum(acc[t]);
}

// ---- Q6_K × Q8_K: unsigned 6-bit values · x times the int8 scale of each 16; the −32 offset is
// −32·Σ scale·bsum, all in integers -------------------------------------------------------------
QD_INLINE void tile_q6_K(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, float *out) {
    const size_t nb = n / 256;
    const __m256i low4 = _mm256_set1_epi8(0xF), low2 = _mm256_set1_epi8(3);
    __m256 acc[QD_MAX_TOKENS];
    const float *xd[QD_MAX_TOKENS];
    const int16_t *bsums[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        bsums[t] = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q6_K, n));
    }
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *block = w + 210 * b;
        const int8_t *sc = (const int8_t *)(block + 192);
        const __m128i scale_bytes = _mm_loadu_si128((const __m128i *)sc);
        const __m256i scale16 = _mm256_cvtepi8_epi16(scale_bytes);
        __m256i sum[QD_MAX_TOKENS];
        for (int t = 0; t < T; t++) sum[t] = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            // Both 128-bit lanes hold this half's eight scales as int16; chunk c takes scale 2c in
            // the low lane (its first 16 values) and 2c + 1 in the high lane.
            const __m256i half_scales = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(sc + 8 * half))));
            const __m256i l0 = load256(block + 64 * half), l1 = load256(block + 64 * half + 32);
            const __m256i h = load256(block + 128 + 32 * half);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4));
            for (int c = 0; c < 4; c++) {
                const short low = (short)(0x0100 + 0x0202 * (2 * c)), high = (short)(0x0100 + 0x0202 * (2 * c + 1));
                const __m256i pick = _mm256_setr_epi16(low, low, low, low, low, low, low, low,
                                                       high, high, high, high, high, high, high, high);
                const __m256i scale = _mm256_shuffle_epi8(half_scales, pick);
                for (int t = 0; t < T; t++) {
                    const int8_t *x = (const int8_t *)xs[t] + 256 * b + 128 * half + 32 * c;
                    sum[t] = dot_s16(sum[t], _mm256_maddubs_epi16(q[c], load256(x)), scale);
                }
            }
        }
        const float d = qd_half(block + 208);
        for (int t = 0; t < T; t++) {
            __m256i offset = _mm256_madd_epi16(load256(bsums[t] + 16 * b), scale16);
            __m256i total = _mm256_sub_epi32(sum[t], _mm256_slli_epi32(offset, 5));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(d * xd[t][b]), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) out[t] = hsum(acc[t]);
}

#define QD_DISPATCH_TOKENS(KERNEL)                                                                 \
    switch (tokens) {                                                                              \
    case 1: KERNEL(w, xs, 1, n, out); break;                                                       \
    case 2: KERNEL(w, xs, 2, n, out); break;                                                       \
    case 3: KERNEL(w, xs, 3, n, out); break;                                                       \
    default: KERNEL(w, xs, 4, n, out); break;                                                      \
    }

void QD_TILE_NAME(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, float *out) {
    switch (format) {
    case QD_Q8_0: QD_DISPATCH_TOKENS(tile_q8_0); break;
    case QD_Q4_0: QD_DISPATCH_TOKENS(tile_q4_0); break;
    case QD_Q4_K: QD_DISPATCH_TOKENS(tile_q4_K); break;
    case QD_Q6_K: QD_DISPATCH_TOKENS(tile_q6_K); break;
    default: qd_tile_scalar(format, w, xs, tokens, n, out); break;
    }
}

#pragma clang attribute pop
