// Vector tiles of the quantized dot products: one weight row against up to QD_MAX_TOKENS activation
// rows, so each weight block is loaded and decoded once per tile. Included once per tier by
// quant_dot_<tier>.c, which first defines
//   QD_TARGET     the clang target string the whole file is compiled for,
//   QD_TILE_NAME  the exported tile function (declared in quant_dot_internal.h; none when undefined),
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

/// Bytes ahead of the weights being read that the row tiles prefetch. Rows of 16384 values or more
/// (down projections) left the GEMV at about half the plain read rate: the activation row no longer
/// stays in L1 and its reloads take the line-fill slots the weight stream needs. An explicit
/// prefetch 4 KB ahead measured 20–40 % faster there on Zen 4 (one thread) and no change on
/// 4096-wide rows.
#define QD_PREFETCH 4096

/// Prefetches `lines` cache lines QD_PREFETCH bytes ahead of `p`.
QD_INLINE void qd_prefetch(const uint8_t *p, int lines) {
    for (int i = 0; i < lines; i++) _mm_prefetch((const char *)(p + QD_PREFETCH + 64 * i), _MM_HINT_T0);
}

QD_INLINE __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }


QD_INLINE int32_t reduce_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

// ---- Q8_0 and Q4_0 (× Q8_0 activations): eight blocks at a time ----------------------------------
// Q8_0: |w| · (x with w's sign), exact in int16 pairs. Q4_0: unsigned nibbles · x, then −8·Σx.
// Each block's products land in one int32 vector; the eight vectors are folded into one vector of
// eight block sums (hadd rounds), then scaled by eight weight scales (one gather) and eight
// activation scales (one load) at once, instead of a float conversion and multiply-add per block.

/// [Σ v0, Σ v1, …, Σ v7] of eight int32 vectors.
/// Per 128-bit lane [Σ v0, Σ v1, Σ v2, Σ v3] of that lane. At AVX-512-VNNI a 4×4 transpose-and-add,
/// seven one-uop operations where three hadd (several uops each) were: Q8_0 +2 %, Q4_0 +4 % with the
/// weights in cache on Zen 4; the AVX2 tiers measured 2–3 % slower with it there and keep the hadds.
QD_INLINE __m256i sum4_lanes(const __m256i *v) {
#if QD_DOT < 2
    return _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
#endif
    const __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[0], v[1]), _mm256_unpackhi_epi32(v[0], v[1]));
    const __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(v[2], v[3]), _mm256_unpackhi_epi32(v[2], v[3]));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23));
}

QD_INLINE __m256i sum8(const __m256i *v) {
    const __m256i low = sum4_lanes(v), high = sum4_lanes(v + 4);
    return _mm256_add_epi32(_mm256_permute2x128_si256(low, high, 0x20), _mm256_permute2x128_si256(low, high, 0x31));
}

/// The f16 scales at the start of eight consecutive blocks `stride` bytes apart, as floats.
/// A Q4_K block's eight 6-bit scales (bytes 0–7) and mins (bytes 8–15) unpacked from its 12 scale
/// bytes q[0..11] (at block + 4) with byte shuffles and masks, as qd_q4k_scale_min: scale j < 4 is
/// q[j] & 63, min j < 4 is q[j + 4] & 63; scale j ≥ 4 is q[j + 4] & 15 with q[j − 4] >> 6 as bits
/// 4–5, min j ≥ 4 is q[j + 4] >> 4 with q[j] >> 6 as bits 4–5. The scalar unpack this replaces
/// cost about a fifth of the loop (35 vs 28 GB/s in cache with it left out).
QD_INLINE __m128i q4k_scale_min_vector(const uint8_t *block) {
    const __m128i q = _mm_loadu_si128((const __m128i *)(block + 4));  // 12 scale bytes, then 4 of the nibbles
    const __m128i low = _mm_shuffle_epi8(q, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i top = _mm_shuffle_epi8(q, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i low_bits = _mm_and_si128(low, _mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    // Per 16-bit word a right shift by 4 leaves each byte's high nibble in its low nibble (masked).
    const __m128i high_nibbles = _mm_and_si128(_mm_srli_epi16(low, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    // Bits 6–7 of each byte to bits 4–5 (a word shift by 2; the bits from the neighbouring byte land in 6–7, masked).
    const __m128i top_bits = _mm_and_si128(_mm_srli_epi16(top, 2), _mm_set1_epi8(0x30));
    return _mm_or_si128(_mm_or_si128(low_bits, high_nibbles), top_bits);
}

/// A Q4_K block's eight 6-bit sub-block scales and mins as 16-bit lanes: `scale16` holds scales
/// 0–7 in both 128-bit halves, `min16` each min twice (lanes 2k, 2k+1).
QD_INLINE void q4k_scales_mins(const uint8_t *block, __m256i *scale16, __m256i *min16) {
    const __m128i scales_mins = q4k_scale_min_vector(block);
    *min16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins));
    *scale16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
}

QD_INLINE __m256 block_scales8(const uint8_t *first, int stride) {
    const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
    __m256i words = _mm256_and_si256(_mm256_i32gather_epi32((const int *)first, offsets, 1), _mm256_set1_epi32(0xFFFF));
    __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

QD_INLINE void tile8_q8_0(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, size_t b0, size_t b1, float *out) {
    __m256 acc[QD_MAX_TOKENS];
    float tail[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        tail[t] = 0;
    }
    size_t b = b0;
    for (; b + 8 <= b1; b += 8) {
        qd_prefetch(w + 34 * b, 5);
#if QD_DOT > 0
        // VNNI adds int8 products in int32 without saturation: w + 128 as unsigned, minus 128·Σx.
        __m256i wu[8];
        for (int j = 0; j < 8; j++) wu[j] = _mm256_xor_si256(load256(w + 34 * (b + j) + 2), _mm256_set1_epi8((char)0x80));
#else
        __m256i wq[8], wabs[8];
        for (int j = 0; j < 8; j++) {
            wq[j] = load256(w + 34 * (b + j) + 2);
            wabs[j] = _mm256_abs_epi8(wq[j]);
        }
#endif
        const __m256 dw = block_scales8(w + 34 * b, 34);
        for (int t = 0; t < T; t++) {
            const uint8_t *x = xs[t];
            __m256i v[8];
#if QD_DOT > 0
            for (int j = 0; j < 8; j++) v[j] = dot_u8s8(_mm256_setzero_si256(), wu[j], load256(x + 32 * (b + j)));
            const int32_t *xsum = (const int32_t *)(x + qd_sum_offset(QD_Q8_0, n));
            const __m256i sums = _mm256_sub_epi32(sum8(v), _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), 7));
#else
            for (int j = 0; j < 8; j++) v[j] = dot_u8s8(_mm256_setzero_si256(), wabs[j], _mm256_sign_epi8(load256(x + 32 * (b + j)), wq[j]));
            const __m256i sums = sum8(v);
#endif
            const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps((const float *)(x + qd_scale_offset(n)) + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[t]);
        }
    }
    for (; b < b1; b++) {
        const __m256i wq = load256(w + 34 * b + 2);
        const float dw = qd_half(w + 34 * b);
        for (int t = 0; t < T; t++) {
            __m256i sum = dot_u8s8(_mm256_setzero_si256(), _mm256_abs_epi8(wq), _mm256_sign_epi8(load256(xs[t] + 32 * b), wq));
            tail[t] += (float)reduce_i32(sum) * dw * ((const float *)(xs[t] + qd_scale_offset(n)))[b];
        }
    }
    for (int t = 0; t < T; t++) out[t] = hsum(acc[t]) + tail[t];
}

QD_INLINE void tile8_q4_0(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, size_t b0, size_t b1, float *out) {
    const size_t nb = n / 32;
    const __m256i low4 = _mm256_set1_epi8(0xF);
    __m256 acc[QD_MAX_TOKENS];
    float tail[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        tail[t] = 0;
    }
    size_t b = b0;
    for (; b + 8 <= b1; b += 8) {
        qd_prefetch(w + 18 * b, 3);
        // Pair p: lo/hi nibbles of blocks b + 2p (low 128 bits) and b + 2p + 1 (high 128 bits).
        __m256i lo[4], hi[4];
        for (int p = 0; p < 4; p++) {
            const uint8_t *a = w + 18 * (b + 2 * p) + 2;
            const __m256i packed = _mm256_loadu2_m128i((const __m128i *)(a + 18), (const __m128i *)a);
            lo[p] = _mm256_and_si256(packed, low4);
            hi[p] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
        }
        const __m256 dw = block_scales8(w + 18 * b, 18);
        for (int t = 0; t < T; t++) {
            const uint8_t *x = xs[t];
            __m256i v[4];  // lanes 0–3: block b + 2p, lanes 4–7: block b + 2p + 1
            for (int p = 0; p < 4; p++) {
                const uint8_t *xp = x + 32 * (b + 2 * p);
                v[p] = dot_u8s8(dot_u8s8(_mm256_setzero_si256(), lo[p], load256(xp)), hi[p], load256(xp + 32));
            }
            // hadd rounds leave the block sums in the order 0 2 4 6 1 3 5 7.
            __m256i mixed = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
            __m256i sums = _mm256_permutevar8x32_epi32(mixed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            // The −8 offset of every nibble: −8·Σx per block.
            const int32_t *xsum = (const int32_t *)(x + qd_sum_offset(QD_Q4_0, n));
            sums = _mm256_sub_epi32(sums, _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), 3));
            const __m256 scale = _mm256_mul_ps(dw, _mm256_loadu_ps((const float *)(x + qd_scale_offset(n)) + b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[t]);
        }
    }
    for (; b < b1; b++) {
        const __m128i packed = _mm_loadu_si128((const __m128i *)(w + 18 * b + 2));
        const __m256i wq = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm256_castsi256_si128(low4)),
                                            _mm_and_si128(packed, _mm256_castsi256_si128(low4)));
        const float dw = qd_half(w + 18 * b);
        for (int t = 0; t < T; t++) {
            const uint8_t *x = xs[t];
            const __m256i xv = _mm256_setr_m128i(_mm_loadu_si128((const __m128i *)(x + qd_q4_0_position(b, 0, nb))),
                                                 _mm_loadu_si128((const __m128i *)(x + qd_q4_0_position(b, 16, nb))));
            const int32_t *xsum = (const int32_t *)(x + qd_sum_offset(QD_Q4_0, n));
            __m256i sum = dot_u8s8(_mm256_setzero_si256(), wq, xv);
            tail[t] += (float)(reduce_i32(sum) - 8 * xsum[b]) * dw * ((const float *)(x + qd_scale_offset(n)))[b];
        }
    }
    for (int t = 0; t < T; t++) out[t] = hsum(acc[t]) + tail[t];
}


// ---- Q4_K × Q8_K: per sub-block of 32, nibble·x pairs (int16) times the 6-bit scale; the mins
// meet the activation's 16-value sums once per super-block ---------------------------------------
QD_INLINE void tile_q4_K(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, size_t b0, size_t b1, float *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF);
    __m256 acc[QD_MAX_TOKENS];
    const float *xd[QD_MAX_TOKENS];
    const int16_t *bsums[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        bsums[t] = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q4_K, n));
    }
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 144 * b;
        qd_prefetch(block, 3);
        const uint8_t *qs = block + 16;
        __m256i scale16, min16;
        q4k_scales_mins(block, &scale16, &min16);
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
QD_INLINE void tile_q6_K(const uint8_t *w, const uint8_t *const *xs, const int T, size_t n, size_t b0, size_t b1, float *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF), low2 = _mm256_set1_epi8(3);
    __m256 acc[QD_MAX_TOKENS];
    const float *xd[QD_MAX_TOKENS];
    const int16_t *bsums[QD_MAX_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        bsums[t] = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q6_K, n));
    }
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 210 * b;
        qd_prefetch(block, 4);
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
    case 1: KERNEL(w, xs, 1, n, b0, b1, out); break;                                                       \
    case 2: KERNEL(w, xs, 2, n, b0, b1, out); break;                                                       \
    case 3: KERNEL(w, xs, 3, n, b0, b1, out); break;                                                       \
    default: KERNEL(w, xs, 4, n, b0, b1, out); break;                                                      \
    }

#ifdef QD_TILE_NAME
void QD_TILE_NAME(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out) {
    switch (format) {
    case QD_Q8_0: QD_DISPATCH_TOKENS(tile8_q8_0); break;
    case QD_Q4_0: QD_DISPATCH_TOKENS(tile8_q4_0); break;
    case QD_Q4_K: QD_DISPATCH_TOKENS(tile_q4_K); break;
    case QD_Q6_K: QD_DISPATCH_TOKENS(tile_q6_K); break;
    default: qd_tile_scalar(format, w, xs, tokens, n, b0, b1, out); break;
    }
}
#endif

#pragma clang attribute pop
