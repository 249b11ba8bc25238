// K-quant prefill GEMM of one tier (Q4_K and Q6_K weights × Q8_K activations), included by
// quant_dot_<tier>.c after quant_dot_simd.h (whose dot_u8s8/dot_s16 it uses), which first defines
//   QG_KGEMM_NAME  the exported driver (declared in quant_dot_internal.h; without it only the
//                  panel packing, which the AMX-INT8 tier uses),
//   QG_TOKENS      tokens per register tile: 4 with 32 vector registers, 2 with 16.
//
// The per-row tiles of quant_dot_simd.h decode each 4-bit or 6-bit weight afresh for every four
// tokens and spend two instructions (maddubs, madd) per 32 products. Here a panel of 16 rows ×
// 1024 values is unpacked once into bytes, transposed so that a 64-byte line holds four consecutive
// values of all 16 rows, and every token then meets it with one broadcast and two vpdpbusd per
// four values: 8 rows × 4 products per instruction, integer sums per sub-block, one float scale per
// sub-block and row. The unpacking costs a few instructions per weight byte, spread over all tokens.

#pragma clang attribute push(__attribute__((target(QD_TARGET))), apply_to = function)

/// Transposes an 8×8 matrix of int32 (row i = r[i]) in place.
QD_INLINE void qg_transpose8(__m256i r[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
    }
}

/// The 256 values of one super-block as bytes in order (Q4_K 0..15, Q6_K 0..63).
QD_INLINE void qg_unpack_block(uint32_t format, const uint8_t *block, uint8_t *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF);
    if (format == QD_Q4_K) {
        for (int j = 0; j < 4; j++) {
            const __m256i packed = load256(block + 16 + 32 * j);
            _mm256_storeu_si256((__m256i *)(out + 64 * j), _mm256_and_si256(packed, low4));
            _mm256_storeu_si256((__m256i *)(out + 64 * j + 32), _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4));
        }
        return;
    }
    const __m256i low2 = _mm256_set1_epi8(3);
    for (int half = 0; half < 2; half++) {
        const __m256i l0 = load256(block + 64 * half), l1 = load256(block + 64 * half + 32);
        const __m256i h = load256(block + 128 + 32 * half);
        uint8_t *o = out + 128 * half;
        _mm256_storeu_si256((__m256i *)o, _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_slli_epi16(_mm256_and_si256(h, low2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 32), _mm256_or_si256(_mm256_and_si256(l1, low4),
                                                                  _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), low2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 64), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                                                                  _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), low2), 4)));
        _mm256_storeu_si256((__m256i *)(o + 96), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                                                  _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), low2), 4)));
    }
}

/// Fills `panel` with super-blocks b0 ≤ b < b0 + count of `rows` weight rows; rows past `rows` are
/// zero (they contribute nothing and are never stored).
static void qg_pack(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, size_t b0, size_t count, qg_panel *panel) {
    const size_t block_bytes = format == QD_Q4_K ? 144 : 210;
    _Alignas(32) uint8_t values[QG_ROWS][256];
    for (size_t b = 0; b < count; b++) {
        for (int r = 0; r < QG_ROWS; r++) {
            if (r >= rows) {
                memset(values[r], 0, 256);
                for (int s = 0; s < 16; s++) panel->scales[b][s][r] = 0;
                for (int j = 0; j < 8; j++) panel->pairs[b][j][r] = 0;
                panel->corr[b][r] = 0;
                continue;
            }
            const uint8_t *block = w + (size_t)r * row_bytes + block_bytes * (b0 + b);
            qg_unpack_block(format, block, values[r]);
            if (format == QD_Q4_K) {
                const float d = qd_half(block), dmin = qd_half(block + 2);
                for (int j = 0; j < 8; j++) {
                    uint8_t scale, min;
                    qd_q4k_scale_min(j, block + 4, &scale, &min);
                    panel->scales[b][j][r] = d * (float)scale;
                    panel->pairs[b][j][r] = (int32_t)((uint32_t)min | (uint32_t)min << 16);
                }
                panel->corr[b][r] = dmin;
            } else {
                const int8_t *sc = (const int8_t *)(block + 192);
                const float d = qd_half(block + 208);
                for (int g = 0; g < 16; g++) panel->scales[b][g][r] = d * (float)sc[g];
                for (int j = 0; j < 8; j++) {
                    panel->pairs[b][j][r] = (int32_t)((uint32_t)(uint16_t)(int16_t)sc[2 * j] | (uint32_t)(uint16_t)(int16_t)sc[2 * j + 1] << 16);
                }
                panel->corr[b][r] = 32.0f * d;
            }
        }
        // Rows 8·half … 8·half + 7, four-byte groups 8·u … 8·u + 7: transpose to groups × rows.
        for (int half = 0; half < 2; half++) {
            for (int u = 0; u < 8; u++) {
                __m256i m[8];
                for (int i = 0; i < 8; i++) m[i] = load256(values[8 * half + i] + 32 * u);
                qg_transpose8(m);
                for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)&panel->codes[b][8 * u + i][8 * half][0], m[i]);
            }
        }
    }
}

/// Q8_0/Q4_0 panel: blocks b0 ≤ b < b0 + count (count ≤ 8·QG_BLOCKS) as unsigned bytes (Q8_0 + 128,
/// Q4_0 nibbles) in the same rows-in-lanes lines, the f16 scale of block b in scales[b/16][b%16].
static void qg_pack32(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, size_t b0, size_t count, qg_panel *panel) {
    const size_t block_bytes = format == QD_Q8_0 ? 34 : 18;
    const __m256i low4 = _mm256_set1_epi8(0xF), flip = _mm256_set1_epi8((char)0x80);
    _Alignas(32) uint8_t values[QG_ROWS][256];
    for (size_t g = 0; g < (count + 7) / 8; g++) {
        for (int r = 0; r < QG_ROWS; r++) {
            for (size_t j = 0; j < 8; j++) {
                const size_t b = 8 * g + j;
                if (r >= rows || b >= count) {
                    memset(values[r] + 32 * j, 0, 32);
                    if (b < count) panel->scales[b / 16][b % 16][r] = 0;
                    continue;
                }
                const uint8_t *block = w + (size_t)r * row_bytes + block_bytes * (b0 + b);
                panel->scales[b / 16][b % 16][r] = qd_half(block);
                __m256i v;
                if (format == QD_Q8_0) {
                    v = _mm256_xor_si256(load256(block + 2), flip);
                } else {
                    const __m128i packed = _mm_loadu_si128((const __m128i *)(block + 2));
                    v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm256_castsi256_si128(low4)),
                                         _mm_and_si128(packed, _mm256_castsi256_si128(low4)));
                }
                _mm256_storeu_si256((__m256i *)(values[r] + 32 * j), v);
            }
        }
        for (int half = 0; half < 2; half++) {
            for (int u = 0; u < 8; u++) {
                __m256i m[8];
                for (int i = 0; i < 8; i++) m[i] = load256(values[8 * half + i] + 32 * u);
                qg_transpose8(m);
                for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)&panel->codes[g][8 * u + i][8 * half][0], m[i]);
            }
        }
    }
}

/// y[t·ldy + i] = out[16·t + i] (or += when `accumulate`: a later panel pass over the same rows)
/// for t < tokens, i < rows.
QD_INLINE void qg_store_tokens(const float *out, int tokens, int rows, float *y, size_t ldy, int accumulate) {
    for (int t = 0; t < tokens; t++) {
        float *target = y + (size_t)t * ldy;
        if (accumulate) {
            for (int i = 0; i < rows; i++) target[i] += out[16 * t + i];
        } else {
            for (int i = 0; i < rows; i++) target[i] = out[16 * t + i];
        }
    }
}

#ifdef QG_KGEMM_NAME
/// Q8_0/Q4_0 panel against T tokens: out[t·16 + i] = Σ over the panel's `count` blocks (global index
/// b0 + b) of row i · X_t. `offset` is what the stored bytes add to each weight (128 or 8), removed
/// as offset·Σx per block; `nb` the row's block count (the Q4_0 activation pair order).
QD_INLINE void qg_panel32_tokens(const qg_panel *panel, uint32_t format, size_t count, const uint8_t *const *xs, const int T,
                                 size_t n, size_t b0, float *out) {
    const int offset = format == QD_Q8_0 ? 128 : 8;
    const size_t nb = n / 32;
    __m256 acc[QG_TOKENS][2];
    const float *xd[QG_TOKENS];
    const int32_t *xsum[QG_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        xsum[t] = (const int32_t *)(xs[t] + qd_sum_offset(QD_Q8_0, n));
    }
    for (size_t b = 0; b < count; b++) {
        const size_t gb = b0 + b;
        // Where the activations of this block's values 4k … 4k + 3 sit (Q4_0 rows pair blocks).
        size_t low = 32 * gb, high = 32 * gb + 16;
        if (format == QD_Q4_0) {
            low = qd_q4_0_position(gb, 0, nb);
            high = qd_q4_0_position(gb, 16, nb);
        }
        __m256i sum[QG_TOKENS][2];
        for (int t = 0; t < T; t++) sum[t][0] = sum[t][1] = _mm256_set1_epi32(-offset * xsum[t][gb]);
        for (int k = 0; k < 8; k++) {
            const uint8_t *line = &panel->codes[0][0][0][0] + 64 * (8 * b + (size_t)k);
            const __m256i w0 = _mm256_load_si256((const __m256i *)line), w1 = _mm256_load_si256((const __m256i *)(line + 32));
            const size_t position = k < 4 ? low + 4 * (size_t)k : high + 4 * (size_t)(k - 4);
            for (int t = 0; t < T; t++) {
                int32_t four;
                memcpy(&four, xs[t] + position, 4);
                const __m256i x = _mm256_set1_epi32(four);
                sum[t][0] = dot_u8s8(sum[t][0], w0, x);
                sum[t][1] = dot_u8s8(sum[t][1], w1, x);
            }
        }
        const __m256 dw0 = _mm256_load_ps(panel->scales[b / 16][b % 16]), dw1 = _mm256_load_ps(panel->scales[b / 16][b % 16] + 8);
        for (int t = 0; t < T; t++) {
            const __m256 dx = _mm256_set1_ps(xd[t][gb]);
            acc[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t][0]), _mm256_mul_ps(dw0, dx), acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t][1]), _mm256_mul_ps(dw1, dx), acc[t][1]);
        }
    }
    for (int t = 0; t < T; t++) {
        _mm256_storeu_ps(out + 16 * t, acc[t][0]);
        _mm256_storeu_ps(out + 16 * t + 8, acc[t][1]);
    }
}

/// out[t·16 + i] = Σ over the panel's `count` super-blocks (global index b0 + b) of row i · X_t.
/// `per_scale` is the number of 4-value groups per sub-block: 8 (Q4_K) or 4 (Q6_K).
QD_INLINE void qg_panel_tokens(const qg_panel *panel, const int per_scale, size_t count, const uint8_t *const *xs, const int T,
                               size_t n, size_t b0, float *out) {
    __m256 acc[QG_TOKENS][2];
    const float *xd[QG_TOKENS];
    const int16_t *bsums[QG_TOKENS];
    for (int t = 0; t < T; t++) {
        acc[t][0] = acc[t][1] = _mm256_setzero_ps();
        xd[t] = (const float *)(xs[t] + qd_scale_offset(n));
        bsums[t] = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q4_K, n));
    }
    const int subblocks = 64 / per_scale;
    for (size_t b = 0; b < count; b++) {
        const size_t gb = b0 + b;
        __m256 f[QG_TOKENS][2];
        __m256i sum[QG_TOKENS][2];
        for (int t = 0; t < T; t++) f[t][0] = f[t][1] = _mm256_setzero_ps();
        for (int s = 0; s < subblocks; s++) {
            for (int t = 0; t < T; t++) sum[t][0] = sum[t][1] = _mm256_setzero_si256();
            for (int k = 0; k < per_scale; k++) {
                const int group = s * per_scale + k;
                const uint8_t *line = &panel->codes[b][group][0][0];
                const __m256i w0 = _mm256_load_si256((const __m256i *)line), w1 = _mm256_load_si256((const __m256i *)(line + 32));
                for (int t = 0; t < T; t++) {
                    int32_t four;
                    memcpy(&four, xs[t] + 256 * gb + 4 * group, 4);
                    const __m256i x = _mm256_set1_epi32(four);
                    sum[t][0] = dot_u8s8(sum[t][0], w0, x);
                    sum[t][1] = dot_u8s8(sum[t][1], w1, x);
                }
            }
            const __m256 scale0 = _mm256_load_ps(panel->scales[b][s]), scale1 = _mm256_load_ps(panel->scales[b][s] + 8);
            for (int t = 0; t < T; t++) {
                f[t][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t][0]), scale0, f[t][0]);
                f[t][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t][1]), scale1, f[t][1]);
            }
        }
        for (int t = 0; t < T; t++) sum[t][0] = sum[t][1] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const __m256i p0 = _mm256_load_si256((const __m256i *)panel->pairs[b][j]);
            const __m256i p1 = _mm256_load_si256((const __m256i *)(panel->pairs[b][j] + 8));
            for (int t = 0; t < T; t++) {
                int32_t two;
                memcpy(&two, bsums[t] + 16 * gb + 2 * j, 4);
                const __m256i x = _mm256_set1_epi32(two);
                sum[t][0] = dot_s16(sum[t][0], p0, x);
                sum[t][1] = dot_s16(sum[t][1], p1, x);
            }
        }
        const __m256 corr0 = _mm256_load_ps(panel->corr[b]), corr1 = _mm256_load_ps(panel->corr[b] + 8);
        for (int t = 0; t < T; t++) {
            const __m256 dx = _mm256_set1_ps(xd[t][gb]);
            f[t][0] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(sum[t][0]), corr0, f[t][0]);
            f[t][1] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(sum[t][1]), corr1, f[t][1]);
            acc[t][0] = _mm256_fmadd_ps(f[t][0], dx, acc[t][0]);
            acc[t][1] = _mm256_fmadd_ps(f[t][1], dx, acc[t][1]);
        }
    }
    for (int t = 0; t < T; t++) {
        _mm256_storeu_ps(out + 16 * t, acc[t][0]);
        _mm256_storeu_ps(out + 16 * t + 8, acc[t][1]);
    }
}

static void qg_panel_dispatch(uint32_t format, const qg_panel *panel, int per_scale, size_t count, const uint8_t *const *xs,
                              int tokens, size_t n, size_t b0, float *out) {
#define QG_CASE(F, T) qg_panel_tokens(panel, F, count, xs, T, n, b0, out)
#define QG_CASE32(T) qg_panel32_tokens(panel, format, count, xs, T, n, b0, out)
    if (format == QD_Q8_0 || format == QD_Q4_0) {
        switch (tokens) {
        case 1: QG_CASE32(1); break;
#if QG_TOKENS > 2
        case 2: QG_CASE32(2); break;
        case 3: QG_CASE32(3); break;
#endif
        default: QG_CASE32(QG_TOKENS); break;
        }
    } else if (per_scale == 8) {
        switch (tokens) {
        case 1: QG_CASE(8, 1); break;
#if QG_TOKENS > 2
        case 2: QG_CASE(8, 2); break;
        case 3: QG_CASE(8, 3); break;
#endif
        default: QG_CASE(8, QG_TOKENS); break;
        }
    } else {
        switch (tokens) {
        case 1: QG_CASE(4, 1); break;
#if QG_TOKENS > 2
        case 2: QG_CASE(4, 2); break;
        case 3: QG_CASE(4, 3); break;
#endif
        default: QG_CASE(4, QG_TOKENS); break;
        }
    }
#undef QG_CASE
#undef QG_CASE32
}

void QG_KGEMM_NAME(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens,
                   size_t n, float *y, size_t ldy) {
    qg_panel panel;
    const int small = format == QD_Q8_0 || format == QD_Q4_0;
    const size_t block = small ? 32 : 256, nb = n / block, step = small ? 8 * QG_BLOCKS : QG_BLOCKS;
    const int per_scale = format == QD_Q4_K ? 8 : 4;
    for (size_t b0 = 0; b0 < nb; b0 += step) {
        const size_t count = nb - b0 < step ? nb - b0 : step;
        if (small) {
            qg_pack32(format, w, row_bytes, rows, b0, count, &panel);
        } else {
            qg_pack(format, w, row_bytes, rows, b0, count, &panel);
        }
        for (size_t t0 = 0; t0 < tokens; t0 += QG_TOKENS) {
            const int tc = (int)(tokens - t0 < QG_TOKENS ? tokens - t0 : QG_TOKENS);
            float out[QG_TOKENS * QG_ROWS];
            qg_panel_dispatch(format, &panel, per_scale, count, xs + t0, tc, n, b0, out);
            qg_store_tokens(out, tc, rows, y + t0 * ldy, ldy, b0 > 0);
        }
    }
}

#endif  // QG_KGEMM_NAME

#pragma clang attribute pop
#undef QG_KGEMM_NAME
#undef QG_TOKENS
