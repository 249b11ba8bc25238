// Non-causal attention of one head with bf16 products (mg_attention_bf16.h), for the vision
// towers' bf16 mode: CLIP ViT-L's 16 heads × 577² scores per layer are 31 GFLOP over the tower,
// which `vdpbf16ps` runs at twice the F32 FMA rate.
//
// Layouts (all in `scratch`):
//   kp  [D/2][Tk16] u32   key pairs: (K[j][2p], K[j][2p+1]) at [p][j], so one load gives 16 keys'
//                         pair p and Q·Kᵀ is a GEMM with the keys along the vector lanes.
//   vp  [T/2][Dv][2] bf16 value pairs: (V[2i][c], V[2i+1][c]) at [i][c], so P·V has the output
//                         columns along the lanes and a pair of probabilities per broadcast.
//   qb  [T][D2] bf16      query rows, rounded.
//   s   [R][Tk16] f32     scores of a block of R query rows, then their exponentials (before
//                         that, the rounded key rows on their way into kp).
//   pb  [R][T2] bf16      the exponentials rounded, zero past the last key.
// The register tile is 6 rows × 4 vectors (24 accumulators, 4 B loads, 1 broadcast).
#include "mg_attention_bf16.h"
#include "mg_cpu_tier.h"
#include <string.h>

#define BLOCK_ROWS 48
#define TILE_ROWS 6

static size_t round_up(size_t value, size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

typedef struct {
    size_t tokens, depth;
    size_t depth_pairs;  // ceil(D / 2)
    size_t keys16;       // T rounded up to 16 (score columns)
    size_t token_pairs;  // ceil(T / 2)
    size_t value_cols;   // D rounded up to 16
    size_t kp_bytes, vp_bytes, qb_bytes, s_bytes, pb_bytes;
} layout_t;

static layout_t layout_for(size_t tokens, size_t depth) {
    layout_t l;
    l.tokens = tokens;
    l.depth = depth;
    l.depth_pairs = (depth + 1) / 2;
    l.keys16 = round_up(tokens, 16);
    l.token_pairs = (tokens + 1) / 2;
    l.value_cols = round_up(depth, 16);
    l.kp_bytes = round_up(l.depth_pairs * l.keys16 * 4, 64);
    l.vp_bytes = round_up(l.token_pairs * l.value_cols * 4, 64);
    l.qb_bytes = round_up(tokens * l.depth_pairs * 4, 64);
    // The scores' room also holds the rounded key rows while packing.
    size_t score_room = (size_t)BLOCK_ROWS * l.keys16, key_rows = tokens * l.depth_pairs;
    l.s_bytes = round_up((score_room > key_rows ? score_room : key_rows) * 4, 64);
    l.pb_bytes = round_up((size_t)BLOCK_ROWS * l.token_pairs * 4, 64);
    return l;
}

size_t mg_attention_bf16_scratch_bytes(size_t tokens, size_t depth) {
    layout_t l = layout_for(tokens, depth);
    return l.kp_bytes + l.vp_bytes + l.qb_bytes + l.s_bytes + l.pb_bytes;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define MG_ATTN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// Rounds n floats of `src` to bf16 at `dst`, zeros from n up to `padded` (16 per step).
MG_ATTN_TARGET static inline void round_row(const float *src, uint16_t *dst, size_t n, size_t padded) {
    for (size_t c = 0; c < padded; c += 16) {
        size_t left = c < n ? n - c : 0;
        __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
        __m256bh rounded = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + c));
        size_t room = padded - c;
        __mmask16 store = room >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << room) - 1);
        _mm256_mask_storeu_epi16(dst + c, store, (__m256i)rounded);
    }
}

// Packs the head's rows into kp, vp and qb (zero padding past D and past T).
MG_ATTN_TARGET static void pack(const layout_t *l, const float *q, const float *k, const float *v, size_t ld,
                                uint32_t *kp, uint16_t *vp, uint16_t *qb) {
    size_t t = l->tokens, d = l->depth, pairs = l->depth_pairs, cols = l->value_cols;
    for (size_t j = 0; j < t; j++) round_row(q + j * ld, qb + j * pairs * 2, d, pairs * 2);
    // Keys: rounded rows (in s's room, free until the first scores), then their pairs transposed.
    uint32_t *rows = (uint32_t *)(vp + l->vp_bytes / 2 + l->qb_bytes / 2);
    for (size_t j = 0; j < t; j++) round_row(k + j * ld, (uint16_t *)(rows + j * pairs), d, pairs * 2);
    for (size_t p = 0; p < pairs; p++) {
        uint32_t *dst = kp + p * l->keys16;
        for (size_t j = 0; j < t; j++) dst[j] = rows[j * pairs + p];
        for (size_t j = t; j < l->keys16; j++) dst[j] = 0;
    }
    // Values: rows 2i and 2i + 1 interleaved column by column (a missing last row is zeros).
    const __m512i interleave = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7,
                                                38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    for (size_t i = 0; i < l->token_pairs; i++) {
        const float *even = v + 2 * i * ld, *odd = 2 * i + 1 < t ? even + ld : NULL;
        uint16_t *dst = vp + i * cols * 2;
        for (size_t c = 0; c < cols; c += 16) {
            size_t left = c < d ? d - c : 0;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m256bh a = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, even + c));
            __m256bh b = odd ? _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, odd + c)) : (__m256bh)_mm256_setzero_si256();
            __m512i pair = _mm512_permutex2var_epi16(_mm512_castsi256_si512((__m256i)a), interleave,
                                                     _mm512_castsi256_si512((__m256i)b));
            _mm512_storeu_si512(dst + 2 * c, pair);
        }
    }
}

// s[r][j0 + 16·n] for MR query rows × NV key vectors: Σ_p qb[r][p] · kp[p][j], times `scale`.
static inline __attribute__((always_inline)) MG_ATTN_TARGET void
scores_tile(const layout_t *l, const uint32_t *qrows, const uint32_t *kp, size_t j0, float *s, float scale, int mr,
            int nv) {
    __m512 acc[TILE_ROWS][4];
    for (int r = 0; r < mr; r++)
        for (int n = 0; n < nv; n++) acc[r][n] = _mm512_setzero_ps();
    size_t pairs = l->depth_pairs;
    for (size_t p = 0; p < pairs; p++) {
        __m512bh b[4];
        for (int n = 0; n < nv; n++) b[n] = (__m512bh)_mm512_loadu_si512(kp + p * l->keys16 + j0 + 16 * n);
        for (int r = 0; r < mr; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)qrows[r * pairs + p]);
            for (int n = 0; n < nv; n++) acc[r][n] = _mm512_dpbf16_ps(acc[r][n], a, b[n]);
        }
    }
    __m512 factor = _mm512_set1_ps(scale);
    for (int r = 0; r < mr; r++)
        for (int n = 0; n < nv; n++) _mm512_storeu_ps(s + r * l->keys16 + j0 + 16 * n, _mm512_mul_ps(acc[r][n], factor));
}

// out[r][c0 + 16·n] = inv[r] · Σ_i pb[r][i] · vp[i][c] for MR rows × NV column vectors (the
// columns past D are not stored).
static inline __attribute__((always_inline)) MG_ATTN_TARGET void
values_tile(const layout_t *l, const uint32_t *prows, const uint16_t *vp, size_t c0, const float *inv, float *out,
            size_t ld_out, int mr, int nv) {
    __m512 acc[TILE_ROWS][4];
    for (int r = 0; r < mr; r++)
        for (int n = 0; n < nv; n++) acc[r][n] = _mm512_setzero_ps();
    size_t pairs = l->token_pairs, cols = l->value_cols;
    for (size_t i = 0; i < pairs; i++) {
        __m512bh b[4];
        for (int n = 0; n < nv; n++) b[n] = (__m512bh)_mm512_loadu_si512(vp + (i * cols + c0 + 16 * n) * 2);
        for (int r = 0; r < mr; r++) {
            __m512bh a = (__m512bh)_mm512_set1_epi32((int)prows[r * pairs + i]);
            for (int n = 0; n < nv; n++) acc[r][n] = _mm512_dpbf16_ps(acc[r][n], a, b[n]);
        }
    }
    for (int r = 0; r < mr; r++) {
        __m512 factor = _mm512_set1_ps(inv[r]);
        for (int n = 0; n < nv; n++) {
            size_t c = c0 + 16 * (size_t)n;
            size_t left = l->depth - c;
            __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_ps(out + r * ld_out + c, mask, _mm512_mul_ps(acc[r][n], factor));
        }
    }
}

// Constant-bound instances, so the accumulators stay in registers.
#define TILE_INSTANCES(X) X(1, 1) X(1, 2) X(1, 3) X(1, 4) X(2, 1) X(2, 2) X(2, 3) X(2, 4) X(3, 1) X(3, 2) X(3, 3) \
    X(3, 4) X(4, 1) X(4, 2) X(4, 3) X(4, 4) X(5, 1) X(5, 2) X(5, 3) X(5, 4) X(6, 1) X(6, 2) X(6, 3) X(6, 4)

#define DEFINE_SCORES(MR, NV)                                                                                  \
    MG_ATTN_TARGET static void scores_##MR##_##NV(const layout_t *l, const uint32_t *q, const uint32_t *kp,   \
                                                  size_t j0, float *s, float scale) {                         \
        scores_tile(l, q, kp, j0, s, scale, MR, NV);                                                           \
    }
#define DEFINE_VALUES(MR, NV)                                                                                  \
    MG_ATTN_TARGET static void values_##MR##_##NV(const layout_t *l, const uint32_t *p, const uint16_t *vp,   \
                                                  size_t c0, const float *inv, float *out, size_t ld_out) {   \
        values_tile(l, p, vp, c0, inv, out, ld_out, MR, NV);                                                   \
    }
TILE_INSTANCES(DEFINE_SCORES)
TILE_INSTANCES(DEFINE_VALUES)

typedef void (*scores_fn)(const layout_t *, const uint32_t *, const uint32_t *, size_t, float *, float);
typedef void (*values_fn)(const layout_t *, const uint32_t *, const uint16_t *, size_t, const float *, float *,
                          size_t);
#define SCORES_ROW(MR) {scores_##MR##_1, scores_##MR##_2, scores_##MR##_3, scores_##MR##_4}
#define VALUES_ROW(MR) {values_##MR##_1, values_##MR##_2, values_##MR##_3, values_##MR##_4}
static const scores_fn scores_table[TILE_ROWS][4] = {SCORES_ROW(1), SCORES_ROW(2), SCORES_ROW(3),
                                                     SCORES_ROW(4), SCORES_ROW(5), SCORES_ROW(6)};
static const values_fn values_table[TILE_ROWS][4] = {VALUES_ROW(1), VALUES_ROW(2), VALUES_ROW(3),
                                                     VALUES_ROW(4), VALUES_ROW(5), VALUES_ROW(6)};

// 2^x for x <= 0 (scores already in log2 units, minus the row maximum): x = n + f with n = round(x),
// |f| <= 1/2, a degree-6 polynomial of 2^f (relative error < 2e-7), then scalef by 2^n. Very
// negative inputs give 0 or subnormals, which the bf16 rounding below flushes anyway.
MG_ATTN_TARGET static inline __m512 exp2_vector(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// Row r of the block: 2^(s − max) rounded to bf16 into pb (zeros up to the pair boundary), and
// 1 / Σ of the F32 values into inv[r] (summing the rounded values instead changes the result by
// far less than the rounding itself and costs a widening per vector).
MG_ATTN_TARGET static void softmax_row(const layout_t *l, float *s, uint16_t *pb, float *inv) {
    size_t t = l->tokens;
    size_t body = t - t % 16;
    __mmask16 tail = (__mmask16)((1u << (t - body)) - 1);
    __m512 maxv = _mm512_set1_ps(-__builtin_inff());
    for (size_t j = 0; j < body; j += 16) maxv = _mm512_max_ps(maxv, _mm512_loadu_ps(s + j));
    if (tail) maxv = _mm512_mask_max_ps(maxv, tail, maxv, _mm512_maskz_loadu_ps(tail, s + body));
    __m512 maximum = _mm512_set1_ps(_mm512_reduce_max_ps(maxv));
    __m512 sum = _mm512_setzero_ps();
    for (size_t j = 0; j < body; j += 16) {
        __m512 e = exp2_vector(_mm512_sub_ps(_mm512_loadu_ps(s + j), maximum));
        _mm256_storeu_si256((__m256i *)(pb + j), (__m256i)_mm512_cvtneps_pbh(e));
        sum = _mm512_add_ps(sum, e);
    }
    size_t padded = l->token_pairs * 2;
    if (padded > body) {
        __m512 e = exp2_vector(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, s + body), maximum));
        e = _mm512_maskz_mov_ps(tail, e);
        __mmask16 store = (__mmask16)((1u << (padded - body)) - 1);
        _mm256_mask_storeu_epi16(pb + body, store, (__m256i)_mm512_cvtneps_pbh(e));
        sum = _mm512_add_ps(sum, e);
    }
    *inv = 1.0f / _mm512_reduce_add_ps(sum);
}

MG_ATTN_TARGET static void attention_head(const float *q, const float *k, const float *v, size_t ld_in, float *out,
                                          size_t ld_out, size_t tokens, size_t depth, float scale, void *scratch) {
    layout_t l = layout_for(tokens, depth);
    uint8_t *base = scratch;
    uint32_t *kp = (uint32_t *)base;
    uint16_t *vp = (uint16_t *)(base + l.kp_bytes);
    uint16_t *qb = (uint16_t *)(base + l.kp_bytes + l.vp_bytes);
    float *s = (float *)(base + l.kp_bytes + l.vp_bytes + l.qb_bytes);
    uint16_t *pb = (uint16_t *)(base + l.kp_bytes + l.vp_bytes + l.qb_bytes + l.s_bytes);
    pack(&l, q, k, v, ld_in, kp, vp, qb);
    const uint32_t *q32 = (const uint32_t *)qb;
    const uint32_t *p32 = (const uint32_t *)pb;
    float inv[BLOCK_ROWS];
    // Scores in log2 units, so the softmax exponentiates with exp2.
    float factor = scale * 1.4426950408889634f;
    for (size_t r0 = 0; r0 < tokens; r0 += BLOCK_ROWS) {
        size_t rows = tokens - r0 < BLOCK_ROWS ? tokens - r0 : BLOCK_ROWS;
        // Key tiles outside, row tiles inside: a 64-key tile of kp (D/2 × 256 bytes) stays in L1.
        for (size_t j0 = 0; j0 < l.keys16; j0 += 64) {
            size_t nv = (l.keys16 - j0) / 16 < 4 ? (l.keys16 - j0) / 16 : 4;
            for (size_t r = 0; r < rows; r += TILE_ROWS) {
                size_t mr = rows - r < TILE_ROWS ? rows - r : TILE_ROWS;
                scores_table[mr - 1][nv - 1](&l, q32 + (r0 + r) * l.depth_pairs, kp, j0, s + r * l.keys16, factor);
            }
        }
        for (size_t r = 0; r < rows; r++) softmax_row(&l, s + r * l.keys16, pb + r * l.token_pairs * 2, inv + r);
        for (size_t r = 0; r < rows; r += TILE_ROWS) {
            size_t mr = rows - r < TILE_ROWS ? rows - r : TILE_ROWS;
            for (size_t c0 = 0; c0 < l.value_cols; c0 += 64) {
                size_t nv = (l.value_cols - c0) / 16 < 4 ? (l.value_cols - c0) / 16 : 4;
                values_table[mr - 1][nv - 1](&l, p32 + r * l.token_pairs, vp, c0, inv + r, out + (r0 + r) * ld_out,
                                             ld_out);
            }
        }
    }
}
#endif

int mg_attention_bf16_head(const float *q, const float *k, const float *v, size_t ld_in, float *out, size_t ld_out,
                           size_t tokens, size_t depth, float scale, void *scratch) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (mg_kernel_tier() >= MG_TIER_AVX512BF16 && tokens > 0 && depth > 0) {
        attention_head(q, k, v, ld_in, out, ld_out, tokens, depth, scale, scratch);
        return 1;
    }
#endif
    (void)q, (void)k, (void)v, (void)ld_in, (void)out, (void)ld_out, (void)tokens, (void)depth, (void)scale;
    (void)scratch;
    return 0;
}
