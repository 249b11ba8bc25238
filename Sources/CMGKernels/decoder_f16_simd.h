// The half-precision cache attention for one SIMD width, included by decoder_f16.c once per tier
// with these macros defined:
//   NAME(x)        the tier's function name for x
//   TARGET         the tier's target attribute
//   VEC, VLEN      the F32 vector type and its lane count
//   VZERO(), VSET1(x), VLOADF(p), VSTOREF(p, v), VFMA(a, b, c) = a·b + c
//   VLOADH(p)      VLEN halves at p widened to F32 (vcvtph2ps)
//   VSTOREH(p, v)  v rounded to VLEN halves at p (vcvtps2ph, nearest even)
//   HSUM4(a, b, c, d)  an __m128 of the four vectors' lane sums
// head_dim must be a multiple of VLEN (the caller falls back to the portable kernel otherwise).
// Grouped query heads (group > 1) read keys and values through F32 tiles of TILE_KEYS rows
// (head_dim ≤ TILE_MAX_DIM, 32 KB on the stack), single heads straight from the halves.

// Scores of query rows against keys: 4 keys per step, so the four dot products are reduced
// together (three horizontal adds for four keys instead of a full reduction each).
TARGET static void NAME(scores)(const float *restrict qg, const uint16_t *restrict keys, size_t head_dim, size_t n,
                                float scale, float *restrict s) {
    const size_t chunks = head_dim / VLEN;
    const __m128 scale4 = _mm_set1_ps(scale);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint16_t *k0 = keys + j * head_dim, *k1 = k0 + head_dim, *k2 = k1 + head_dim, *k3 = k2 + head_dim;
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

// o = Σ_j p[j]·values[j]: eight vectors of columns at a time stay in registers over all keys.
TARGET static void NAME(weighted_values)(const float *restrict p, const uint16_t *restrict values, size_t head_dim,
                                         size_t n, float *restrict o) {
    size_t c = 0;
    for (; c + 8 * VLEN <= head_dim; c += 8 * VLEN) {
        VEC acc[8];
        for (int u = 0; u < 8; u++) acc[u] = VZERO();
        for (size_t j = 0; j < n; j++) {
            const VEC pj = VSET1(p[j]);
            const uint16_t *v = values + j * head_dim + c;
            for (int u = 0; u < 8; u++) acc[u] = VFMA(pj, VLOADH(v + u * VLEN), acc[u]);
        }
        for (int u = 0; u < 8; u++) VSTOREF(o + c + u * VLEN, acc[u]);
    }
    for (; c < head_dim; c += VLEN) {
        VEC acc = VZERO();
        for (size_t j = 0; j < n; j++) acc = VFMA(VSET1(p[j]), VLOADH(values + j * head_dim + c), acc);
        VSTOREF(o + c, acc);
    }
}

// Grouped heads: a block of TILE_KEYS keys (or values) is widened once into an F32 tile, which every
// query head of the group then reads, instead of each head widening the block again.
TARGET static void NAME(widen_rows)(const uint16_t *restrict src, float *restrict tile, size_t count) {
    for (size_t i = 0; i < count; i += VLEN) VSTOREF(tile + i, VLOADH(src + i));
}

// As NAME(scores), over F32 rows.
TARGET static void NAME(tile_scores)(const float *restrict qg, const float *restrict keys, size_t head_dim, size_t n,
                                     float scale, float *restrict s) {
    const size_t chunks = head_dim / VLEN;
    const __m128 scale4 = _mm_set1_ps(scale);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *k0 = keys + j * head_dim, *k1 = k0 + head_dim, *k2 = k1 + head_dim, *k3 = k2 + head_dim;
        VEC a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
        for (size_t c = 0; c < chunks; c++) {
            VEC qv = VLOADF(qg + c * VLEN);
            a0 = VFMA(qv, VLOADF(k0 + c * VLEN), a0);
            a1 = VFMA(qv, VLOADF(k1 + c * VLEN), a1);
            a2 = VFMA(qv, VLOADF(k2 + c * VLEN), a2);
            a3 = VFMA(qv, VLOADF(k3 + c * VLEN), a3);
        }
        _mm_storeu_ps(s + j, _mm_mul_ps(HSUM4(a0, a1, a2, a3), scale4));
    }
    for (; j < n; j++) {
        const float *k0 = keys + j * head_dim;
        VEC a0 = VZERO();
        for (size_t c = 0; c < chunks; c++) a0 = VFMA(VLOADF(qg + c * VLEN), VLOADF(k0 + c * VLEN), a0);
        s[j] = scale * _mm_cvtss_f32(HSUM4(a0, VZERO(), VZERO(), VZERO()));
    }
}

// o += Σ_j p[j]·values[j] over F32 rows.
TARGET static void NAME(tile_weighted_values)(const float *restrict p, const float *restrict values, size_t head_dim,
                                              size_t n, float *restrict o) {
    size_t c = 0;
    for (; c + 8 * VLEN <= head_dim; c += 8 * VLEN) {
        VEC acc[8];
        for (int u = 0; u < 8; u++) acc[u] = VLOADF(o + c + u * VLEN);
        for (size_t j = 0; j < n; j++) {
            const VEC pj = VSET1(p[j]);
            const float *v = values + j * head_dim + c;
            for (int u = 0; u < 8; u++) acc[u] = VFMA(pj, VLOADF(v + u * VLEN), acc[u]);
        }
        for (int u = 0; u < 8; u++) VSTOREF(o + c + u * VLEN, acc[u]);
    }
    for (; c < head_dim; c += VLEN) {
        VEC acc = VLOADF(o + c);
        for (size_t j = 0; j < n; j++) acc = VFMA(VSET1(p[j]), VLOADF(values + j * head_dim + c), acc);
        VSTOREF(o + c, acc);
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
        if (group == 1 || head_dim > TILE_MAX_DIM) {
            for (size_t g = 0; g < group; g++) {
                NAME(scores)(qt + g * head_dim, keys + first * head_dim, head_dim, n, scale, scratch + g * n);
            }
            mg_softmax_rows(scratch, scratch, group, n);
            for (size_t g = 0; g < group; g++) {
                NAME(weighted_values)(scratch + g * n, values + first * head_dim, head_dim, n, ot + g * head_dim);
            }
            continue;
        }
        float tile[TILE_KEYS * TILE_MAX_DIM] __attribute__((aligned(64)));
        for (size_t j = 0; j < n; j += TILE_KEYS) {
            size_t count = n - j < TILE_KEYS ? n - j : TILE_KEYS;
            NAME(widen_rows)(keys + (first + j) * head_dim, tile, count * head_dim);
            for (size_t g = 0; g < group; g++) {
                NAME(tile_scores)(qt + g * head_dim, tile, head_dim, count, scale, scratch + g * n + j);
            }
        }
        mg_softmax_rows(scratch, scratch, group, n);
        for (size_t g = 0; g < group; g++) {
            float *o = ot + g * head_dim;
            for (size_t d = 0; d < head_dim; d++) o[d] = 0;
        }
        for (size_t j = 0; j < n; j += TILE_KEYS) {
            size_t count = n - j < TILE_KEYS ? n - j : TILE_KEYS;
            NAME(widen_rows)(values + (first + j) * head_dim, tile, count * head_dim);
            for (size_t g = 0; g < group; g++) {
                NAME(tile_weighted_values)(scratch + g * n + j, tile, head_dim, count, ot + g * head_dim);
            }
        }
    }
}

TARGET static void NAME(store)(const float *restrict src, uint16_t *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + VLEN <= n; i += VLEN) VSTOREH(dst + i, VLOADF(src + i));
    if (i < n) mg_f32_to_f16(src + i, dst + i, n - i);
}
