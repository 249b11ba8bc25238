// Decode GEMV of one tier: R weight rows (R ≤ QR_ROWS) against one quantized activation row per
// pass. Included by quant_dot_<tier>.c after quant_dot_simd.h (whose helpers it uses), which first
// defines
//   QR_GEMV_NAME  the exported function (declared in quant_dot_internal.h),
//   QR_ROWS       rows per pass: 4 with 32 vector registers, 2 with 16,
//   QR_GFNI       (optional) 1 when the target has GFNI: Q4_0/Q4_K high nibbles in one affine op,
//   QR_ZMM        (optional, with QR_GFNI and AVX-512-VBMI) 1 for the Q4_0 and Q4_K values on 512-bit
//                 vectors (see qr_q4_0, qr_q4_K).
//
// The one-row tiles of quant_dot_simd.h serve a decode step one weight row at a time: every
// activation vector is loaded again for each row, and a K-quant row's integer sum is one chain of
// eight dependent multiply-adds per super-block, so a row ran at about two thirds of the read rate
// (Llama-7B Q4_K). Here R rows share each activation load and their chains interleave. Per row the
// float operations are those of the one-row tile in the same order, so the results are identical
// to it (and equal to the scalar reference up to the order of float additions).
//
// The R rows are `row_bytes` apart: the driver passes the distance between its R row segments, so
// each row stream is sequential across passes. Each stream can be prefetched `ahead` bytes ahead.

#pragma clang attribute push(__attribute__((target(QD_TARGET))), apply_to = function)

#ifndef QR_PREFETCH_HINT
#define QR_PREFETCH_HINT _MM_HINT_T0
#endif

/// Prefetches the `lines` cache lines `ahead` bytes past `p` (none when `ahead` is 0).
QD_INLINE void qr_prefetch(const uint8_t *p, size_t ahead, int lines) {
    if (ahead == 0) return;
    for (int i = 0; i < lines; i++) _mm_prefetch((const char *)(p + ahead + 64 * (size_t)i), QR_PREFETCH_HINT);
}

/// The GF2P8AFFINEQB matrix that moves bits in_low … in_low + count − 1 of each byte to bits
/// out_low … out_low + count − 1 (all others zero): result bit i is the parity of the source bits
/// selected by byte 7 − i of the matrix. (Q6_K's 2-bit fields this way, one op for shift, mask and
/// shift, measured 6 % slower than the shifts and masks: 34.4 vs 36.5 GB/s in cache.)
QD_INLINE long long qr_bits_matrix(int out_low, int count, int in_low) {
    unsigned long long m = 0;
    for (int i = 0; i < count; i++) m |= (unsigned long long)(1u << (in_low + i)) << (8 * (7 - (out_low + i)));
    return (long long)m;
}

/// Each byte's high nibble moved to its low nibble (upper bits zero). With GFNI one
/// GF2P8AFFINEQB, whose matrix row for result bit i (byte 7 − i of the qword) selects source bit
/// i + 4, instead of a word shift and a mask: Q4_K rows 32.5 → 35.3 GB/s in cache on Zen 4.
QD_INLINE __m256i qr_high_nibbles(__m256i packed) {
#if defined(QR_GFNI) && QR_GFNI
    return _mm256_gf2p8affine_epi64_epi8(packed, _mm256_set1_epi64x(qr_bits_matrix(0, 4, 4)), 0);
#else
    return _mm256_and_si256(_mm256_srli_epi16(packed, 4), _mm256_set1_epi8(0xF));
#endif
}

// ---- Q8_0 / Q4_0: eight blocks per step, the activation vectors loaded once for all rows --------

/// The f16 scales of eight consecutive Q4_0 blocks (18 bytes apart) as floats, in the block order
/// 0 2 4 6 1 3 5 7 in which sum4_lanes leaves the sums of four block pairs (so the sums need no
/// permute back). With AVX-512 two 64-byte loads and one word permute pick them (blocks 0–3 start
/// at words 0, 9, 18, 27 of the first load, 4–7 at 32, 41, 50, 59 of the second), where a gather
/// cost about a fifth of the decode loop's samples (perf, Llama-7B Q4_0).
QD_INLINE __m256 q4_0_scales8(const uint8_t *first) {
#if QD_DOT == 2
    const __m512i a = _mm512_loadu_si512((const void *)first), b = _mm512_loadu_si512((const void *)(first + 72));
    const __m512i pick = _mm512_zextsi128_si512(_mm_setr_epi16(0, 18, 32, 50, 9, 27, 41, 59));
    return _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(a, pick, b)));
#else
    const __m256i offsets = _mm256_setr_epi32(0, 36, 72, 108, 18, 54, 90, 126);
    const __m256i words = _mm256_and_si256(_mm256_i32gather_epi32((const int *)first, offsets, 1), _mm256_set1_epi32(0xFFFF));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08)));
#endif
}

QD_INLINE void qr_q8_0(const uint8_t *w, size_t row_bytes, const int R, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    const float *xd = (const float *)(x + qd_scale_offset(n));
    __m256 acc[QR_ROWS];
    float tail[QR_ROWS];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        tail[r] = 0;
    }
    size_t b = b0;
    for (; b + 8 <= b1; b += 8) {
        __m256i xv[8];
        for (int j = 0; j < 8; j++) xv[j] = load256(x + 32 * (b + j));
        const __m256 dx = _mm256_loadu_ps(xd + b);
#if QD_DOT > 0
        const int32_t *xsum = (const int32_t *)(x + qd_sum_offset(QD_Q8_0, n));
        const __m256i offset = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), 7);
#endif
        for (int r = 0; r < R; r++) {
            const uint8_t *wr = w + (size_t)r * row_bytes + 34 * b;
            qr_prefetch(wr, ahead, 5);
            __m256i v[8];
#if QD_DOT > 0
            // w + 128 as unsigned bytes against signed x, minus 128·Σx per block (as the row tile).
            for (int j = 0; j < 8; j++) {
                v[j] = dot_u8s8(_mm256_setzero_si256(), _mm256_xor_si256(load256(wr + 34 * j + 2), _mm256_set1_epi8((char)0x80)), xv[j]);
            }
            const __m256i sums = _mm256_sub_epi32(sum8(v), offset);
#else
            for (int j = 0; j < 8; j++) {
                const __m256i wq = load256(wr + 34 * j + 2);
                v[j] = dot_u8s8(_mm256_setzero_si256(), _mm256_abs_epi8(wq), _mm256_sign_epi8(xv[j], wq));
            }
            const __m256i sums = sum8(v);
#endif
            const __m256 scale = _mm256_mul_ps(block_scales8(wr, 34), dx);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[r]);
        }
    }
    for (; b < b1; b++) {
        const __m256i xv = load256(x + 32 * b);
        for (int r = 0; r < R; r++) {
            const uint8_t *block = w + (size_t)r * row_bytes + 34 * b;
            const __m256i wq = load256(block + 2);
            const __m256i sum = dot_u8s8(_mm256_setzero_si256(), _mm256_abs_epi8(wq), _mm256_sign_epi8(xv, wq));
            tail[r] += (float)reduce_i32(sum) * qd_half(block) * xd[b];
        }
    }
    for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) + tail[r];
}

QD_INLINE void qr_q4_0(const uint8_t *w, size_t row_bytes, const int R, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    const size_t nb = n / 32;
    const __m256i low4 = _mm256_set1_epi8(0xF);
    const float *xd = (const float *)(x + qd_scale_offset(n));
    const int32_t *xsum = (const int32_t *)(x + qd_sum_offset(QD_Q4_0, n));
    __m256 acc[QR_ROWS];
    float tail[QR_ROWS];
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        tail[r] = 0;
    }
    size_t b = b0;
#if defined(QR_ZMM) && QR_ZMM
    // Sixteen blocks per step on 512-bit vectors (Intel cores, where vpdpbusd issues as often on
    // zmm as on ymm but the 256-bit loop's ALU ports were all busy: llvm-mca, Ice Lake server model,
    // 15 cycles per row and 8 blocks, three ports at 13 uops each). Per four blocks one byte permute
    // of two loads gathers their 64 payload bytes, one AND and one affine op give the low and the high
    // nibbles, two vpdpbusd against the activations regrouped to [4 × low 16 | 4 × high 16]. The
    // per-block int32 sums are those of the 256-bit loop (integers), put in its lane order (0 2 4 6
    // 1 3 5 7 per eight blocks) by one dword permute, and each half takes that loop's float
    // operations in its order: the results are bit-identical to it. llvm-mca: 22.5 cycles per row
    // and 16 blocks against 30; measured in L2 on one core 18.3–19.6 GB/s against 14.9–16.2
    // (Emerald Rapids, quant_decode_compute.c).
    {
        // Byte j of block lane j / 16: payload byte j % 16 of block j / 16, at 18 · (j / 16) + 2 + j % 16
        // of the 72-byte window (bytes 64–71 come from the second table).
        __m512i take = _mm512_set_epi8(
            71, 70, 69, 68, 67, 66, 65, 64, 63, 62, 61, 60, 59, 58, 57, 56, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,
            41, 40, 39, 38, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 17, 16, 15, 14, 13, 12, 11, 10, 9,
            8, 7, 6, 5, 4, 3, 2);
        // Scales: the f16 words of blocks 0 2 4 6 1 3 5 7 of two windows (bytes 18 · (k % 4) of window
        // k / 4), in the low 128 bits.
        __m512i pick = _mm512_zextsi128_si512(_mm_setr_epi8(0, 1, 36, 37, 64, 65, 100, 101, 18, 19, 54, 55, 82, 83, 118, 119));
        // Hidden from the optimiser, which otherwise turns these byte permutes into word permutes
        // (vpermt2w: 3 uops, two on port 5, against one for vpermt2b on Ice Lake and later).
        __asm__("" : "+v"(take), "+v"(pick));
        const __m512i low4z = _mm512_set1_epi8(0xF), high = _mm512_set1_epi64(qr_bits_matrix(0, 4, 4));
        const __m512i order16 = _mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
        // After the reduction element 4l + g holds block 4g + l; this puts block order16[e] at e.
        const __m512i regroup = _mm512_setr_epi32(0, 8, 1, 9, 4, 12, 5, 13, 2, 10, 3, 11, 6, 14, 7, 15);
        for (; b + 16 <= b1; b += 16) {
            // Group g (blocks b + 4g … b + 4g + 3): xlo[g] their values 0–15, xhi[g] 16–31, from the
            // stored pairs [A 0–15 | B 0–15 | A 16–31 | B 16–31].
            __m512i xlo[4], xhi[4];
            for (int g = 0; g < 4; g++) {
                const __m512i p0 = _mm512_loadu_si512((const void *)(x + 32 * (b + 4 * g)));
                const __m512i p1 = _mm512_loadu_si512((const void *)(x + 32 * (b + 4 * g + 2)));
                xlo[g] = _mm512_shuffle_i64x2(p0, p1, 0x44);
                xhi[g] = _mm512_shuffle_i64x2(p0, p1, 0xEE);
            }
            const __m512 dx = _mm512_permutexvar_ps(order16, _mm512_loadu_ps(xd + b));
            const __m512i offset = _mm512_slli_epi32(_mm512_permutexvar_epi32(order16, _mm512_loadu_si512((const void *)(xsum + b))), 3);
            for (int r = 0; r < R; r++) {
                const uint8_t *wr = w + (size_t)r * row_bytes + 18 * b;
                qr_prefetch(wr, ahead, 5);
                __m512i v[4], windows[4];  // 128-bit lane l of v[g]: four partial sums of block b + 4g + l
                for (int g = 0; g < 4; g++) {
                    const uint8_t *window = wr + 72 * g;
                    windows[g] = _mm512_loadu_si512((const void *)window);
                    const __m512i tail = _mm512_zextsi128_si512(_mm_loadl_epi64((const __m128i *)(window + 64)));
                    const __m512i packed = _mm512_permutex2var_epi8(windows[g], take, tail);
                    const __m512i lo = _mm512_and_si512(packed, low4z);
                    const __m512i hi = _mm512_gf2p8affine_epi64_epi8(packed, high, 0);
                    v[g] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, xlo[g]), hi, xhi[g]);
                }
                const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
                const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
                const __m512i grouped = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
                const __m512 sums = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_permutexvar_epi32(regroup, grouped), offset));
                const __m128i halves_lo = _mm512_castsi512_si128(_mm512_permutex2var_epi8(windows[0], pick, windows[1]));
                const __m128i halves_hi = _mm512_castsi512_si128(_mm512_permutex2var_epi8(windows[2], pick, windows[3]));
                const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_setr_m128i(halves_lo, halves_hi)), dx);
                acc[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(sums), _mm512_castps512_ps256(scale), acc[r]);
                acc[r] = _mm256_fmadd_ps(_mm512_extractf32x8_ps(sums, 1), _mm512_extractf32x8_ps(scale, 1), acc[r]);
            }
        }
    }
#endif
    for (; b + 8 <= b1; b += 8) {
        // Activations of block pair p: low-nibble values at xv[2p], high-nibble values at xv[2p + 1].
        __m256i xv[8];
        for (int j = 0; j < 8; j++) xv[j] = load256(x + 32 * (b + j));
        // Block-indexed vectors in the order of sum4_lanes (0 2 4 6 1 3 5 7); acc[r] is put back in block order at the end,
        // so every lane accumulates the same blocks in the same order as the one-row tile.
        const __m256i order = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        const __m256 dx = _mm256_permutevar8x32_ps(_mm256_loadu_ps(xd + b), order);
        const __m256i offset = _mm256_slli_epi32(_mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(xsum + b)), order), 3);
        for (int r = 0; r < R; r++) {
            const uint8_t *wr = w + (size_t)r * row_bytes + 18 * b;
            qr_prefetch(wr, ahead, 3);
            __m256i v[4];  // lanes 0–3: block b + 2p, lanes 4–7: block b + 2p + 1
            for (int p = 0; p < 4; p++) {
                const uint8_t *a = wr + 18 * (2 * p) + 2;
                const __m256i packed = _mm256_loadu2_m128i((const __m128i *)(a + 18), (const __m128i *)a);
                const __m256i lo = _mm256_and_si256(packed, low4);
                const __m256i hi = qr_high_nibbles(packed);
                v[p] = dot_u8s8(dot_u8s8(_mm256_setzero_si256(), lo, xv[2 * p]), hi, xv[2 * p + 1]);
            }
            const __m256i sums = _mm256_sub_epi32(sum4_lanes(v), offset);
            const __m256 scale = _mm256_mul_ps(q4_0_scales8(wr), dx);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc[r]);
        }
    }
    for (; b < b1; b++) {
        const __m256i xv = _mm256_setr_m128i(_mm_loadu_si128((const __m128i *)(x + qd_q4_0_position(b, 0, nb))),
                                             _mm_loadu_si128((const __m128i *)(x + qd_q4_0_position(b, 16, nb))));
        for (int r = 0; r < R; r++) {
            const uint8_t *block = w + (size_t)r * row_bytes + 18 * b;
            const __m128i packed = _mm_loadu_si128((const __m128i *)(block + 2));
            const __m256i wq = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm256_castsi256_si128(low4)),
                                                _mm_and_si128(packed, _mm256_castsi256_si128(low4)));
            const __m256i sum = dot_u8s8(_mm256_setzero_si256(), wq, xv);
            tail[r] += (float)(reduce_i32(sum) - 8 * xsum[b]) * qd_half(block) * xd[b];
        }
    }
    // Lane k holds interleaved block k (0 2 4 6 1 3 5 7): back to block order for hsum.
    const __m256i block_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int r = 0; r < R; r++) out[r] = hsum(_mm256_permutevar8x32_ps(acc[r], block_order)) + tail[r];
}

// ---- Q4_K at AVX-512-VNNI: the per-super-block work of four rows shared -----------------------
#if QD_DOT == 2
/// The per-super-block tables of four Q4_K rows (see qr_q4_K) for super-block b: pairs[r][k] the
/// (s_k, s_k) int16 pair of row r, mins[r] its m0 m0 m1 m1 … m7 m7 as bytes, scaled[2r] d·dx and
/// scaled[2r + 1] dmin·dx.
typedef struct {
    _Alignas(64) int32_t pairs[4][8];
    _Alignas(64) uint8_t mins[4][16];
    _Alignas(32) float scaled[8];
} qr_q4k_tables;

QD_INLINE void qr_q4k_prepare(const uint8_t *const *row, size_t b, float dx, qr_q4k_tables *t) {
    // q4k_scale_min_vector's shuffles and masks, moved by the 4 bytes of d and dmin, in every lane.
    const __m512i pick_low = _mm512_broadcast_i32x4(_mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i pick_top = _mm512_broadcast_i32x4(_mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    const __m512i mask_low = _mm512_broadcast_i32x4(_mm_setr_epi8(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 0, 0, 0, 0));
    const __m512i mask_high = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15));
    __m512i head = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[0] + 144 * b)));
    head = _mm512_inserti32x4(head, _mm_loadu_si128((const __m128i *)(row[1] + 144 * b)), 1);
    head = _mm512_inserti32x4(head, _mm_loadu_si128((const __m128i *)(row[2] + 144 * b)), 2);
    head = _mm512_inserti32x4(head, _mm_loadu_si128((const __m128i *)(row[3] + 144 * b)), 3);
    // Lane r: row r's scales (bytes 0–7) and mins (8–15), as q4k_scale_min_vector.
    const __m512i low = _mm512_shuffle_epi8(head, pick_low), top = _mm512_shuffle_epi8(head, pick_top);
    const __m512i scales_mins = _mm512_or_si512(
        _mm512_or_si512(_mm512_and_si512(low, mask_low), _mm512_and_si512(_mm512_srli_epi16(low, 4), mask_high)),
        _mm512_and_si512(_mm512_srli_epi16(top, 2), _mm512_set1_epi8(0x30)));
    const __m512i scale_words = _mm512_unpacklo_epi8(scales_mins, _mm512_setzero_si512());
    const __m512i pairs_low = _mm512_unpacklo_epi16(scale_words, scale_words), pairs_high = _mm512_unpackhi_epi16(scale_words, scale_words);
    // Lane r of pairs_low holds row r's pairs 0–3, of pairs_high 4–7.
    _mm512_store_si512((void *)t->pairs[0], _mm512_permutex2var_epi64(pairs_low, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), pairs_high));
    _mm512_store_si512((void *)t->pairs[2], _mm512_permutex2var_epi64(pairs_low, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), pairs_high));
    _mm512_store_si512((void *)t->mins, _mm512_unpackhi_epi8(scales_mins, scales_mins));
    const __m128i d_dmin = _mm512_castsi512_si128(_mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), head));
    _mm256_store_ps(t->scaled, _mm256_mul_ps(_mm256_cvtph_ps(d_dmin), _mm256_set1_ps(dx)));
}

/// Q4_K decode rows at AVX-512-VNNI. The 16 bytes at the start of each row's super-block (d, dmin,
/// 12 scale bytes) of all four rows sit in one 512-bit vector, one 128-bit lane per row, so the
/// scale/min unpack, the (s, s) pairs and the d·dx, dmin·dx products are computed once for four
/// rows (qr_q4k_prepare) where each row did them alone; each row then takes its sub-block scales
/// (embedded broadcasts in vpdpwssd), d·dx and dmin·dx as broadcasts from memory and its min words
/// with one widening load. The tables are built one super-block ahead: built in the same
/// super-block, the broadcasts read data still in the store queue and the shared unpack gained
/// nothing (29 GB/s in cache on Zen 4 either way); one ahead, 32 GB/s. Rows beyond R repeat the
/// last row in the tables (their lanes unused).
///
/// Tried and slower on Zen 4, where a 512-bit operation takes the 256-bit pipes twice: the value
/// loop on 512-bit vectors (two 32-byte groups per load, activations regrouped by two 128-bit-lane
/// shuffles, scales by a word permute) −10 %; one vpdpbusd per sub-block, a pack of two sub-blocks'
/// sums to words and one vpdpwssd per group (three multiplies instead of four) −17 %.
///
/// On Intel cores (QR_ZMM, the variant qd_gemv_rows_for picks there) the values go on 512-bit
/// vectors: vpmaddubsw and vpdpwssd issue as often on zmm as on ymm (2 per cycle on Emerald Rapids,
/// both widths), so the 64 values of a group take one of each instead of two, and the split into
/// nibbles one affine op; the two sub-block scales of a group sit in one vector (a broadcast, and a
/// masked one for the upper half). Emerald Rapids, weights in L2 (`quant_decode_compute.c`,
/// alternating builds): 22.3–23.7 GB/s per core against 16.3–17.5, checksums equal.
///
/// Exactness: per row the integers and the float operations per lane are those of the one-row
/// tile (same int32 sums, d·dx and dmin·dx as the same float products, one fmadd and one fnmadd per
/// super-block, then hsum), so results are bit-identical to qd_tile_avx512vnni with one token.
QD_INLINE void qr_q4_K(const uint8_t *w, size_t row_bytes, const int R, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    const float *xd = (const float *)(x + qd_scale_offset(n));
    const int16_t *bsums = (const int16_t *)(x + qd_sum_offset(QD_Q4_K, n));
    const uint8_t *row[4];
    for (int r = 0; r < 4; r++) row[r] = w + (size_t)(r < R ? r : R - 1) * row_bytes;
    // Two sets: the next super-block's are computed while this one's are used, so its stores have
    // left the store queue before the broadcasts read them.
    qr_q4k_tables tables[2];
    __m256 acc[QR_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    if (b0 < b1) qr_q4k_prepare(row, b0, xd[b0], &tables[b0 & 1]);
    for (size_t b = b0; b < b1; b++) {
        for (int r = 0; r < R; r++) qr_prefetch(row[r] + 144 * b, ahead, 3);
        if (b + 1 < b1) qr_q4k_prepare(row, b + 1, xd[b + 1], &tables[(b + 1) & 1]);
        const int32_t (*pairs)[8] = tables[b & 1].pairs;
        const uint8_t (*mins)[16] = tables[b & 1].mins;
        const float *scaled = tables[b & 1].scaled;
        __m256i sum[QR_ROWS];  // one chain per row: four rows keep the multiply-adds busy
        const int8_t *xb = (const int8_t *)x + 256 * b;
#if defined(QR_ZMM) && QR_ZMM
        // Per 64 values one broadcast load of the 32 packed bytes, one affine op that leaves the
        // low nibbles in the lower half and the high nibbles in the upper half (the matrix is per
        // qword), against the activations' [low 32 | high 32] as stored; lane i and i + 8 add up
        // to the 256-bit loop's lane i, so the int32 sums are the same.
        const __m512i nibbles = _mm512_setr_epi64(qr_bits_matrix(0, 4, 0), qr_bits_matrix(0, 4, 0), qr_bits_matrix(0, 4, 0), qr_bits_matrix(0, 4, 0),
                                                  qr_bits_matrix(0, 4, 4), qr_bits_matrix(0, 4, 4), qr_bits_matrix(0, 4, 4), qr_bits_matrix(0, 4, 4));
        __m512i wide[QR_ROWS];
        for (int r = 0; r < R; r++) wide[r] = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            const __m512i xv = _mm512_loadu_si512((const void *)(xb + 64 * j));
            for (int r = 0; r < R; r++) {
                const __m512i packed = _mm512_broadcast_i64x4(load256(row[r] + 144 * b + 16 + 32 * j));
                const __m512i q = _mm512_gf2p8affine_epi64_epi8(packed, nibbles, 0);
                const __m512i scale = _mm512_mask_set1_epi32(_mm512_set1_epi32(pairs[r][2 * j]), 0xFF00, pairs[r][2 * j + 1]);
                wide[r] = _mm512_dpwssd_epi32(wide[r], _mm512_maddubs_epi16(q, xv), scale);
            }
        }
        for (int r = 0; r < R; r++) sum[r] = _mm256_add_epi32(_mm512_castsi512_si256(wide[r]), _mm512_extracti64x4_epi64(wide[r], 1));
#else
        const __m256i low4 = _mm256_set1_epi8(0xF);
        for (int r = 0; r < R; r++) sum[r] = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) {
            const __m256i xlo = load256(xb + 64 * j), xhi = load256(xb + 64 * j + 32);
            for (int r = 0; r < R; r++) {
                const __m256i packed = load256(row[r] + 144 * b + 16 + 32 * j);
                const __m256i lo = _mm256_and_si256(packed, low4);
                const __m256i hi = qr_high_nibbles(packed);
                sum[r] = dot_s16(sum[r], _mm256_maddubs_epi16(lo, xlo), _mm256_set1_epi32(pairs[r][2 * j]));
                sum[r] = dot_s16(sum[r], _mm256_maddubs_epi16(hi, xhi), _mm256_set1_epi32(pairs[r][2 * j + 1]));
            }
        }
#endif
        const __m256i sums16 = load256(bsums + 16 * b);
        for (int r = 0; r < R; r++) {
            const __m256i minsum = _mm256_madd_epi16(sums16, _mm256_cvtepu8_epi16(_mm_load_si128((const __m128i *)mins[r])));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[r]), _mm256_set1_ps(scaled[2 * r]), acc[r]);
            acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(minsum), _mm256_set1_ps(scaled[2 * r + 1]), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}
#else
// ---- Q4_K (AVX2, AVX-VNNI): per row the 6-bit scales as int16 for vpdpwssd, two chains per row ----

QD_INLINE void qr_q4_K(const uint8_t *w, size_t row_bytes, const int R, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF);
    const float *xd = (const float *)(x + qd_scale_offset(n));
    const int16_t *bsums = (const int16_t *)(x + qd_sum_offset(QD_Q4_K, n));
    __m256 acc[QR_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (size_t b = b0; b < b1; b++) {
        // The 2-row AVX2 tiers pick each sub-block's scale with a byte shuffle (measured 5 % faster
        // than (s, s) pairs from memory: there is no embedded broadcast and less reuse per super-block).
        __m256i min16[QR_ROWS], sum_lo[QR_ROWS], sum_hi[QR_ROWS], scale16[QR_ROWS];
        for (int r = 0; r < R; r++) {
            const uint8_t *block = w + (size_t)r * row_bytes + 144 * b;
            qr_prefetch(block, ahead, 3);
            q4k_scales_mins(block, &scale16[r], &min16[r]);
            sum_lo[r] = sum_hi[r] = _mm256_setzero_si256();
        }
        const int8_t *xb = (const int8_t *)x + 256 * b;
        for (int j = 0; j < 4; j++) {
            const __m256i xlo = load256(xb + 64 * j), xhi = load256(xb + 64 * j + 32);
            const __m256i pick_lo = _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j)));
            const __m256i pick_hi = _mm256_set1_epi16((short)(0x0100 + 0x0202 * (2 * j + 1)));
            for (int r = 0; r < R; r++) {
                const __m256i packed = load256(w + (size_t)r * row_bytes + 144 * b + 16 + 32 * j);
                const __m256i lo = _mm256_and_si256(packed, low4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
                const __m256i scale_lo = _mm256_shuffle_epi8(scale16[r], pick_lo), scale_hi = _mm256_shuffle_epi8(scale16[r], pick_hi);
                sum_lo[r] = dot_s16(sum_lo[r], _mm256_maddubs_epi16(lo, xlo), scale_lo);
                sum_hi[r] = dot_s16(sum_hi[r], _mm256_maddubs_epi16(hi, xhi), scale_hi);
            }
        }
        const __m256i sums16 = load256(bsums + 16 * b);
        const __m256 dx = _mm256_set1_ps(xd[b]);
        for (int r = 0; r < R; r++) {
            const uint8_t *block = w + (size_t)r * row_bytes + 144 * b;
            const __m256i minsum = _mm256_madd_epi16(sums16, min16[r]);
            const __m256i sum = _mm256_add_epi32(sum_lo[r], sum_hi[r]);
            // d and dmin broadcast as one f16 pair and converted together: lanes d·dx, dmin·dx, …
            // (the same float products as the row tile's scalar ones).
            int32_t both;
            memcpy(&both, block, 4);
            const __m256 scaled = _mm256_mul_ps(_mm256_cvtph_ps(_mm_set1_epi32(both)), dx);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_moveldup_ps(scaled), acc[r]);
            acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(minsum), _mm256_movehdup_ps(scaled), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

#endif

// ---- Q6_K: the 6-bit values rebuilt per row, the activation vector of each 32 loaded once -------

QD_INLINE void qr_q6_K(const uint8_t *w, size_t row_bytes, const int R, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF), low2 = _mm256_set1_epi8(3);
    const float *xd = (const float *)(x + qd_scale_offset(n));
    const int16_t *bsums = (const int16_t *)(x + qd_sum_offset(QD_Q6_K, n));
    __m256 acc[QR_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (size_t b = b0; b < b1; b++) {
        __m256i sum_a[QR_ROWS], sum_b[QR_ROWS];
        for (int r = 0; r < R; r++) {
            qr_prefetch(w + (size_t)r * row_bytes + 210 * b, ahead, 4);
            sum_a[r] = sum_b[r] = _mm256_setzero_si256();
        }
        const int8_t *xb = (const int8_t *)x + 256 * b;
        for (int half = 0; half < 2; half++) {
            __m256i half_scales[QR_ROWS], l0[QR_ROWS], l1[QR_ROWS], h[QR_ROWS];
            for (int r = 0; r < R; r++) {
                const uint8_t *block = w + (size_t)r * row_bytes + 210 * b;
                half_scales[r] = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(block + 192 + 8 * half))));
                l0[r] = load256(block + 64 * half);
                l1[r] = load256(block + 64 * half + 32);
                h[r] = load256(block + 128 + 32 * half);
            }
            for (int c = 0; c < 4; c++) {
                const __m256i xv = load256(xb + 128 * half + 32 * c);
                const short low = (short)(0x0100 + 0x0202 * (2 * c)), high = (short)(0x0100 + 0x0202 * (2 * c + 1));
                const __m256i pick = _mm256_setr_epi16(low, low, low, low, low, low, low, low,
                                                       high, high, high, high, high, high, high, high);
                for (int r = 0; r < R; r++) {
                    const __m256i l = c & 1 ? l1[r] : l0[r];
                    const __m256i low_bits = _mm256_and_si256(c < 2 ? l : _mm256_srli_epi16(l, 4), low4);
                    const __m256i high_bits = _mm256_and_si256(c == 0 ? h[r] : _mm256_srli_epi16(h[r], 2 * c), low2);
                    const __m256i q = _mm256_or_si256(low_bits, _mm256_slli_epi16(high_bits, 4));
                    const __m256i product = _mm256_maddubs_epi16(q, xv);
                    const __m256i scale = _mm256_shuffle_epi8(half_scales[r], pick);
                    if (c & 1) {
                        sum_b[r] = dot_s16(sum_b[r], product, scale);
                    } else {
                        sum_a[r] = dot_s16(sum_a[r], product, scale);
                    }
                }
            }
        }
        const __m256i sums16 = load256(bsums + 16 * b);
        const float dx = xd[b];
        for (int r = 0; r < R; r++) {
            const uint8_t *block = w + (size_t)r * row_bytes + 210 * b;
            const __m256i scale16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(block + 192)));
            const __m256i offset = _mm256_madd_epi16(sums16, scale16);
            const __m256i total = _mm256_sub_epi32(_mm256_add_epi32(sum_a[r], sum_b[r]), _mm256_slli_epi32(offset, 5));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_set1_ps(qd_half(block + 208) * dx), acc[r]);
        }
    }
    for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

#define QR_DISPATCH_ROWS(KERNEL)                                                    \
    switch (rows) {                                                                 \
    case 1: KERNEL(w, row_bytes, 1, x, n, b0, b1, ahead, out); break;                      \
    case 2: KERNEL(w, row_bytes, 2, x, n, b0, b1, ahead, out); break;                      \
    case 3: if (QR_ROWS >= 3) KERNEL(w, row_bytes, QR_ROWS >= 3 ? 3 : 1, x, n, b0, b1, ahead, out); break; \
    default: if (QR_ROWS >= 4) KERNEL(w, row_bytes, QR_ROWS >= 4 ? 4 : 1, x, n, b0, b1, ahead, out); break; \
    }

void QR_GEMV_NAME(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0, size_t b1, size_t ahead, float *out) {
    switch (format) {
    case QD_Q8_0: QR_DISPATCH_ROWS(qr_q8_0); break;
    case QD_Q4_0: QR_DISPATCH_ROWS(qr_q4_0); break;
    case QD_Q4_K: QR_DISPATCH_ROWS(qr_q4_K); break;
    case QD_Q6_K: QR_DISPATCH_ROWS(qr_q6_K); break;
    default:
        for (int r = 0; r < rows; r++) qd_tile_scalar(format, w + (size_t)r * row_bytes, &x, 1, n, b0, b1, out + r);
        break;
    }
}

#pragma clang attribute pop
