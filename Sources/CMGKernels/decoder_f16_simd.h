// The half-precision cache attention for one SIMD width, included by decoder_f16.c once per tier
// with these macros defined:
//   NAME(x)        the tier's function name for x
//   TARGET         the tier's target attribute
//   VEC, VLEN      the F32 vector type and its lane count
//   VZERO(), VSET1(x), VLOADF(p), VSTOREF(p, v), VFMA(a, b, c) = a·b + c
//   VLOADH(p)      VLEN halves at p widened to F32 (vcvtph2ps)
//   VSTOREH(p, v)  v rounded to VLEN halves at p (vcvtps2ph, nearest even)
//   HSUM4(a, b, c, d)  an __m128 of the four vectors' lane sums
//   GROUP_HEADS, GROUP_COLS  query heads per block of a group, accumulator vectors of a values pass
// head_dim must be a multiple of VLEN (the caller falls back to the portable kernel otherwise).
// A single query head per key/value head (Llama-7B) runs scores and weighted_values; grouped query
// heads (group > 1) and the position parts run group_rows.

// Scores of a query row against n half keys: 4 keys per step, so the four dot products are reduced
// together (three horizontal adds for four keys instead of a full reduction each). Each step
// prefetches the keys PREFETCH_ROWS rows ahead, as weighted_values does the values: on Emerald
// Rapids the hardware streamers alone left a head's 128–512 KB run at 76 % of a plain read
// (decode_attention_f16.c, Llama-7B, 512–4096 positions), with the prefetches at 97–101 %.
TARGET static inline __attribute__((always_inline)) void NAME(scores)(const float *restrict qg,
                                                                      const uint16_t *restrict keys, size_t head_dim,
                                                                      size_t n, float scale, float *restrict s) {
    const size_t chunks = head_dim / VLEN;
    const __m128 scale4 = _mm_set1_ps(scale);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint16_t *k0 = keys + j * head_dim, *k1 = k0 + head_dim, *k2 = k1 + head_dim, *k3 = k2 + head_dim;
        for (size_t b = 0; b < 4 * head_dim * sizeof(uint16_t); b += 64)
            _mm_prefetch((const char *)(k0 + PREFETCH_ROWS * head_dim) + b, PREFETCH_HINT);
        VEC a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
        for (size_t c = 0; c < chunks; c++) {
            VEC qv = VLOADF(qg + c * VLEN);
            a0 = VFMA(qv, VLOADH(k0 + c * VLEN), a0);
            a1 = VFMA(qv, VLOADH(k1 + c * VLEN), a1);
            a2 = VFMA(qv, VLOADH(k2 + c * VLEN), a2);
            a3 = VFMA(qv, VLOADH(k3 + c * VLEN), a3);
        }
        _mm_storeu_ps(s + j, _mm_mul_ps(HSUM4(a0, a1, a2, a3), scale4));
    }
    for (; j < n; j++) {
        const uint16_t *k0 = keys + j * head_dim;
        VEC a0 = VZERO();
        for (size_t c = 0; c < chunks; c++) a0 = VFMA(VLOADF(qg + c * VLEN), VLOADH(k0 + c * VLEN), a0);
        s[j] = scale * _mm_cvtss_f32(HSUM4(a0, VZERO(), VZERO(), VZERO()));
    }
}

// o = Σ_j p[j]·values[j] over n half rows: eight vectors of columns at a time stay in registers over
// all keys.
TARGET static inline __attribute__((always_inline)) void NAME(weighted_values)(const float *restrict p,
                                                                               const uint16_t *restrict values,
                                                                               size_t head_dim, size_t n,
                                                                               float *restrict o) {
    size_t c = 0;
    for (; c + 8 * VLEN <= head_dim; c += 8 * VLEN) {
        VEC acc[8];
        for (int u = 0; u < 8; u++) acc[u] = VZERO();
        for (size_t j = 0; j < n; j++) {
            for (size_t b = 0; b < 8 * VLEN * sizeof(uint16_t); b += 64)
                _mm_prefetch((const char *)(values + (j + PREFETCH_ROWS) * head_dim + c) + b, PREFETCH_HINT);
            const VEC pj = VSET1(p[j]);
            const uint16_t *v = values + j * head_dim;
            for (int u = 0; u < 8; u++) acc[u] = VFMA(pj, VLOADH(v + c + u * VLEN), acc[u]);
        }
        for (int u = 0; u < 8; u++) VSTOREF(o + c + u * VLEN, acc[u]);
    }
    for (; c < head_dim; c += VLEN) {
        VEC acc = VZERO();
        for (size_t j = 0; j < n; j++) acc = VFMA(VSET1(p[j]), VLOADH(values + j * head_dim + c), acc);
        VSTOREF(o + c, acc);
    }
}

// Grouped heads (a key/value head shared by several query heads): each half key and value row is
// widened once in a register and used by a block of HEADS query heads (GROUP_HEADS at most: 8 at
// 16 lanes, 4 at 8), so the arithmetic is fused multiply-adds fed from L1 and the cache is read once
// per block of heads. Per head the sums run in the same order as in scores / weighted_values above
// (one accumulator per key over the chunks; one per column vector over the keys, in key order), so
// a head's bits do not depend on the block it is computed in, and equal those of the F32 tiles the
// grouped heads read before (bit-identical, checked against the previous kernel).

// Scores of HEADS query rows (stride head_dim) against n half keys into s[h·ld + j], two keys at a
// time so each query vector loaded feeds two chains.
TARGET static inline __attribute__((always_inline)) void NAME(block_scores)(const float *restrict q, const uint16_t *restrict keys,
                                                                            const int HEADS, size_t head_dim, size_t n,
                                                                            float scale, float *restrict s, size_t ld) {
    const size_t chunks = head_dim / VLEN;
    const VEC zero = VZERO();
    size_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint16_t *k0 = keys + j * head_dim, *k1 = k0 + head_dim;
        for (size_t b = 0; b < 2 * head_dim * sizeof(uint16_t); b += 64)
            _mm_prefetch((const char *)(k0 + PREFETCH_ROWS * head_dim) + b, PREFETCH_HINT);
        VEC a0[GROUP_HEADS], a1[GROUP_HEADS];
        for (int h = 0; h < HEADS; h++) a0[h] = a1[h] = zero;
        for (size_t c = 0; c < chunks; c++) {
            const VEC x0 = VLOADH(k0 + c * VLEN), x1 = VLOADH(k1 + c * VLEN);
            for (int h = 0; h < HEADS; h++) {
                const VEC qv = VLOADF(q + h * head_dim + c * VLEN);
                a0[h] = VFMA(qv, x0, a0[h]);
                a1[h] = VFMA(qv, x1, a1[h]);
            }
        }
        for (int h = 0; h < HEADS; h += 2) {
            float sums[4];
            _mm_storeu_ps(sums, HSUM4(a0[h], a1[h], h + 1 < HEADS ? a0[h + 1] : zero, h + 1 < HEADS ? a1[h + 1] : zero));
            s[h * ld + j] = sums[0] * scale;
            s[h * ld + j + 1] = sums[1] * scale;
            if (h + 1 < HEADS) {
                s[(h + 1) * ld + j] = sums[2] * scale;
                s[(h + 1) * ld + j + 1] = sums[3] * scale;
            }
        }
    }
    for (; j < n; j++) {
        const uint16_t *k0 = keys + j * head_dim;
        for (int h = 0; h < HEADS; h++) {
            VEC a0 = zero;
            for (size_t c = 0; c < chunks; c++) a0 = VFMA(VLOADF(q + h * head_dim + c * VLEN), VLOADH(k0 + c * VLEN), a0);
            s[h * ld + j] = scale * _mm_cvtss_f32(HSUM4(a0, zero, zero, zero));
        }
    }
}

// o[h] += Σ_j p[h·ld + j]·values[j] over n half rows for HEADS heads, COLS column vectors at a time
// (HEADS·COLS accumulators), the remaining columns one vector at a time.
TARGET static inline __attribute__((always_inline)) void NAME(block_values)(const float *restrict p, size_t ld,
                                                                            const uint16_t *restrict values, const int HEADS,
                                                                            const int COLS, size_t head_dim, size_t n,
                                                                            float *restrict o) {
    size_t c = 0;
    for (; c + COLS * VLEN <= head_dim; c += COLS * VLEN) {
        VEC acc[GROUP_HEADS * 8];
        for (int h = 0; h < HEADS; h++)
            for (int u = 0; u < COLS; u++) acc[h * COLS + u] = VLOADF(o + h * head_dim + c + u * VLEN);
        for (size_t j = 0; j < n; j++) {
            // The same columns of the next tile's rows (group_rows), so the passes over this tile's
            // columns, from L1, overlap the next tile's way from memory.
            for (size_t b = 0; b < COLS * VLEN * sizeof(uint16_t); b += 64)
                _mm_prefetch((const char *)(values + (j + GROUP_TILE_KEYS) * head_dim + c) + b, PREFETCH_HINT);
            VEC v[8];
            for (int u = 0; u < COLS; u++) v[u] = VLOADH(values + j * head_dim + c + u * VLEN);
            for (int h = 0; h < HEADS; h++) {
                const VEC pj = VSET1(p[h * ld + j]);
                for (int u = 0; u < COLS; u++) acc[h * COLS + u] = VFMA(pj, v[u], acc[h * COLS + u]);
            }
        }
        for (int h = 0; h < HEADS; h++)
            for (int u = 0; u < COLS; u++) VSTOREF(o + h * head_dim + c + u * VLEN, acc[h * COLS + u]);
    }
    for (; c < head_dim; c += VLEN) {
        for (int h = 0; h < HEADS; h++) {
            VEC acc = VLOADF(o + h * head_dim + c);
            for (size_t j = 0; j < n; j++) acc = VFMA(VSET1(p[h * ld + j]), VLOADH(values + j * head_dim + c), acc);
            VSTOREF(o + h * head_dim + c, acc);
        }
    }
}

// Attention rows of `group` query heads (q and o with stride head_dim) over n half keys and values:
// scores into s[g·n + j]; then either the softmax (stats NULL: o = the attention output) or, for a
// part of the positions, the unnormalised exponentials (o = Σ exp(s − max)·v, stats[g] = the max,
// stats[group + g] = the sum of the exponentials; mg_decoder_attention_merge combines parts).
// Blocks of GROUP_HEADS heads, and GROUP_TILE_KEYS keys at a time, so a tile of keys or values is read from
// memory once and from L1 by the further head blocks and column passes.
TARGET static void NAME(group_rows)(const float *q, const uint16_t *keys, const uint16_t *values, size_t head_dim,
                                    size_t group, size_t n, float scale, float *s, float *o, float *stats) {
    for (size_t j = 0; j < n; j += GROUP_TILE_KEYS) {
        const size_t count = n - j < GROUP_TILE_KEYS ? n - j : GROUP_TILE_KEYS;
        for (size_t g = 0; g < group;) {
            const size_t left = group - g;
            const float *qg = q + g * head_dim;
            const uint16_t *kj = keys + j * head_dim;
            float *sg = s + g * n + j;
            if (left >= GROUP_HEADS) NAME(block_scores)(qg, kj, GROUP_HEADS, head_dim, count, scale, sg, n), g += GROUP_HEADS;
#if GROUP_HEADS > 4
            else if (left >= 4) NAME(block_scores)(qg, kj, 4, head_dim, count, scale, sg, n), g += 4;
#endif
            else if (left >= 2) NAME(block_scores)(qg, kj, 2, head_dim, count, scale, sg, n), g += 2;
            else NAME(block_scores)(qg, kj, 1, head_dim, count, scale, sg, n), g += 1;
        }
    }
    if (stats) mg_exp_rows(s, group, n, stats);
    else mg_softmax_rows(s, s, group, n);
    for (size_t i = 0; i < group * head_dim; i++) o[i] = 0;
    for (size_t j = 0; j < n; j += GROUP_TILE_KEYS) {
        const size_t count = n - j < GROUP_TILE_KEYS ? n - j : GROUP_TILE_KEYS;
        for (size_t g = 0; g < group;) {
            const size_t left = group - g;
            const float *pg = s + g * n + j;
            const uint16_t *vj = values + j * head_dim;
            float *og = o + g * head_dim;
            if (left >= GROUP_HEADS) NAME(block_values)(pg, n, vj, GROUP_HEADS, GROUP_COLS / GROUP_HEADS, head_dim, count, og), g += GROUP_HEADS;
#if GROUP_HEADS > 4
            else if (left >= 4) NAME(block_values)(pg, n, vj, 4, GROUP_COLS / 4, head_dim, count, og), g += 4;
#endif
            else if (left >= 2) NAME(block_values)(pg, n, vj, 2, GROUP_COLS / 2, head_dim, count, og), g += 2;
            else NAME(block_values)(pg, n, vj, 1, 8, head_dim, count, og), g += 1;
        }
    }
}

TARGET static void NAME(attention)(const float *q, size_t q_stride, const uint16_t *keys, const uint16_t *values,
                                   size_t head_dim, size_t group, size_t kv_head, size_t t_begin, size_t t_end,
                                   size_t past, size_t window, float scale, float *out, float *scratch) {
    for (size_t t = t_begin; t < t_end; t++) {
        size_t last = past + t;
        size_t first = (window > 0 && last + 1 > window) ? last + 1 - window : 0;
        size_t n = last - first + 1;
        const float *qt = q + t * q_stride + kv_head * group * head_dim;
        float *ot = out + t * q_stride + kv_head * group * head_dim;
        if (group == 1) {
            NAME(scores)(qt, keys + first * head_dim, head_dim, n, scale, scratch);
            mg_softmax_rows(scratch, scratch, 1, n);
            NAME(weighted_values)(scratch, values + first * head_dim, head_dim, n, ot);
            continue;
        }
        NAME(group_rows)(qt, keys + first * head_dim, values + first * head_dim, head_dim, group, n, scale, scratch, ot, NULL);
    }
}

TARGET static void NAME(store)(const float *restrict src, uint16_t *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + VLEN <= n; i += VLEN) VSTOREH(dst + i, VLOADF(src + i));
    if (i < n) mg_f32_to_f16(src + i, dst + i, n - i);
}
