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

#ifndef MG_DECODER_F16_LOAD_ROW
#define MG_DECODER_F16_LOAD_ROW
// VLEN elements at index i of rows stored as halves (half != 0, widened) or as F32. `half` is a
// constant at every call of the always-inlined kernels below, so each call compiles to one load kind.
#define LOAD_ROW(rows, i, half) \
    ((half) ? VLOADH((const uint16_t *)(rows) + (i)) : VLOADF((const float *)(rows) + (i)))
#endif

// Scores of a query row against n keys (halves of the cache, or an F32 tile of widened ones): 4 keys
// per step, so the four dot products are reduced together (three horizontal adds for four keys
// instead of a full reduction each).
TARGET static inline __attribute__((always_inline)) void NAME(scores)(const float *restrict qg, const void *restrict keys,
                                                                      int half, size_t head_dim, size_t n, float scale,
                                                                      float *restrict s) {
    const size_t chunks = head_dim / VLEN, row_bytes = head_dim * (half ? sizeof(uint16_t) : sizeof(float));
    const __m128 scale4 = _mm_set1_ps(scale);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const char *k0 = (const char *)keys + j * row_bytes, *k1 = k0 + row_bytes, *k2 = k1 + row_bytes,
                   *k3 = k2 + row_bytes;
        VEC a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();
        for (size_t c = 0; c < chunks; c++) {
            VEC qv = VLOADF(qg + c * VLEN);
            a0 = VFMA(qv, LOAD_ROW(k0, c * VLEN, half), a0);
            a1 = VFMA(qv, LOAD_ROW(k1, c * VLEN, half), a1);
            a2 = VFMA(qv, LOAD_ROW(k2, c * VLEN, half), a2);
            a3 = VFMA(qv, LOAD_ROW(k3, c * VLEN, half), a3);
        }
        _mm_storeu_ps(s + j, _mm_mul_ps(HSUM4(a0, a1, a2, a3), scale4));
    }
    for (; j < n; j++) {
        const char *k0 = (const char *)keys + j * row_bytes;
        VEC a0 = VZERO();
        for (size_t c = 0; c < chunks; c++) a0 = VFMA(VLOADF(qg + c * VLEN), LOAD_ROW(k0, c * VLEN, half), a0);
        s[j] = scale * _mm_cvtss_f32(HSUM4(a0, VZERO(), VZERO(), VZERO()));
    }
}

// o = Σ_j p[j]·values[j] (o += … with `accumulate`, over the tiles of a group): eight vectors of
// columns at a time stay in registers over all keys.
TARGET static inline __attribute__((always_inline)) void NAME(weighted_values)(const float *restrict p,
                                                                               const void *restrict values, int half,
                                                                               int accumulate, size_t head_dim,
                                                                               size_t n, float *restrict o) {
    const size_t row_bytes = head_dim * (half ? sizeof(uint16_t) : sizeof(float));
    size_t c = 0;
    for (; c + 8 * VLEN <= head_dim; c += 8 * VLEN) {
        VEC acc[8];
        for (int u = 0; u < 8; u++) acc[u] = accumulate ? VLOADF(o + c + u * VLEN) : VZERO();
        for (size_t j = 0; j < n; j++) {
            const VEC pj = VSET1(p[j]);
            const char *v = (const char *)values + j * row_bytes;
            for (int u = 0; u < 8; u++) acc[u] = VFMA(pj, LOAD_ROW(v, c + u * VLEN, half), acc[u]);
        }
        for (int u = 0; u < 8; u++) VSTOREF(o + c + u * VLEN, acc[u]);
    }
    for (; c < head_dim; c += VLEN) {
        VEC acc = accumulate ? VLOADF(o + c) : VZERO();
        for (size_t j = 0; j < n; j++) {
            acc = VFMA(VSET1(p[j]), LOAD_ROW((const char *)values + j * row_bytes, c, half), acc);
        }
        VSTOREF(o + c, acc);
    }
}

// Grouped heads: a block of TILE_KEYS keys (or values) is widened once into an F32 tile, which every
// query head of the group then reads, instead of each head widening the block again.
TARGET static void NAME(widen_rows)(const uint16_t *restrict src, float *restrict tile, size_t count) {
    for (size_t i = 0; i < count; i += VLEN) VSTOREF(tile + i, VLOADH(src + i));
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
                NAME(scores)(qt + g * head_dim, keys + first * head_dim, 1, head_dim, n, scale, scratch + g * n);
            }
            mg_softmax_rows(scratch, scratch, group, n);
            for (size_t g = 0; g < group; g++) {
                NAME(weighted_values)(scratch + g * n, values + first * head_dim, 1, 0, head_dim, n, ot + g * head_dim);
            }
            continue;
        }
        float tile[TILE_KEYS * TILE_MAX_DIM] __attribute__((aligned(64)));
        for (size_t j = 0; j < n; j += TILE_KEYS) {
            size_t count = n - j < TILE_KEYS ? n - j : TILE_KEYS;
            NAME(widen_rows)(keys + (first + j) * head_dim, tile, count * head_dim);
            for (size_t g = 0; g < group; g++) {
                NAME(scores)(qt + g * head_dim, tile, 0, head_dim, count, scale, scratch + g * n + j);
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
                NAME(weighted_values)(scratch + g * n + j, tile, 0, 1, head_dim, count, ot + g * head_dim);
            }
        }
    }
}

TARGET static void NAME(store)(const float *restrict src, uint16_t *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + VLEN <= n; i += VLEN) VSTOREH(dst + i, VLOADF(src + i));
    if (i < n) mg_f32_to_f16(src + i, dst + i, n - i);
}
