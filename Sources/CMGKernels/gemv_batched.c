// Matrix-vector products of several input rows with one 16-bit weight matrix (continuous-batching
// decode). The weights dominate the memory traffic of one row, but at eight rows the products
// dominate (8 × 2 FLOP per weight): the AVX-512 kernel keeps a block of R weight rows × up to eight
// input rows of accumulators in registers, widens each 16 weights once and feeds them to every input
// row, and so runs near the FMA peak while reading the matrix once per step. The portable loop (AVX2
// and baseline tiers) keeps the lanes explicit for the compiler to vectorise.
#include "mg_gemv_batched.h"
#include "mg_cpu_tier.h"
#include "half_widen.h"
#include <string.h>

#define LANES 16
#define GROUP 8

#define DEFINE_GEMV_BATCH(NAME, WIDEN, TARGET)                                                     \
    TARGET static void NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias,      \
                            float *restrict y, size_t ldy, size_t rows, size_t cols, size_t batch) {            \
        size_t body = cols - cols % LANES;                                                         \
        for (size_t first = 0; first < batch; first += GROUP) {                                    \
            size_t count = batch - first < GROUP ? batch - first : GROUP;                          \
            const float *xs = x + first * cols;                                                    \
            for (size_t r = 0; r < rows; r++) {                                                    \
                const uint16_t *wr = w + r * cols;                                                 \
                float acc[GROUP][LANES];                                                           \
                memset(acc, 0, sizeof(acc));                                                       \
                for (size_t i = 0; i < body; i += LANES) {                                         \
                    float wv[LANES];                                                               \
                    for (int l = 0; l < LANES; l++) wv[l] = WIDEN(wr[i + l]);                      \
                    for (size_t b = 0; b < count; b++) {                                           \
                        const float *xb = xs + b * cols + i;                                       \
                        for (int l = 0; l < LANES; l++) acc[b][l] += xb[l] * wv[l];                \
                    }                                                                              \
                }                                                                                  \
                for (size_t b = 0; b < count; b++) {                                               \
                    float s = 0;                                                                   \
                    for (int l = 0; l < LANES; l++) s += acc[b][l];                                \
                    const float *xb = xs + b * cols;                                               \
                    for (size_t i = body; i < cols; i++) s += xb[i] * WIDEN(wr[i]);                \
                    y[(first + b) * ldy + r] = bias ? s + bias[r] : s;                             \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

DEFINE_GEMV_BATCH(gemv_bf16_batch_baseline, mg_bf16_widen, )
DEFINE_GEMV_BATCH(gemv_f16_batch_baseline, mg_f16_widen, )

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && !defined(MG_NO_MULTIVERSION)
#define GEMV_BATCH_TIERS 1
#include <immintrin.h>
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
DEFINE_GEMV_BATCH(gemv_bf16_batch_avx2, mg_bf16_widen, TARGET_AVX2)
DEFINE_GEMV_BATCH(gemv_f16_batch_avx2, mg_f16_widen, TARGET_AVX2)

TARGET_AVX512 static inline __m512 widen16_bf16(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

TARGET_AVX512 static inline __m512 widen16_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

// R weight rows × NB input rows of 16-lane accumulators (R·NB ≤ 24 registers, plus R widened
// weights and one x vector: within the 32 zmm registers). Each lane sums its column positions in
// order, then the 16 lanes are summed in order and the tail added, as the portable loop does.
// `ahead` points at R weight rows read by a later block: each is prefetched at the column being
// multiplied (once per 64-byte line), because every block row starts a new page, where the hardware
// prefetcher would restart (at 8 input rows, +15-30% GFLOP/s on a matrix that does not fit in cache).
#define DEFINE_BLOCK(NAME, R, NB, WIDEN16, WIDEN)                                                  \
    TARGET_AVX512 static void NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias, \
                                   float *restrict y, size_t ldy, size_t cols, const uint16_t *ahead) { \
        size_t body = cols - cols % LANES;                                                         \
        __m512 acc[R][NB];                                                                         \
        for (int i = 0; i < R; i++)                                                                \
            for (int b = 0; b < NB; b++) acc[i][b] = _mm512_setzero_ps();                          \
        for (size_t c = 0; c < body; c += LANES) {                                                 \
            __m512 wv[R];                                                                          \
            if (c % 32 == 0)                                                                       \
                for (int i = 0; i < R; i++) _mm_prefetch((const char *)(ahead + (size_t)i * cols + c), _MM_HINT_T1); \
            for (int i = 0; i < R; i++) wv[i] = WIDEN16(w + (size_t)i * cols + c);                 \
            for (int b = 0; b < NB; b++) {                                                         \
                __m512 xv = _mm512_loadu_ps(x + (size_t)b * cols + c);                             \
                for (int i = 0; i < R; i++) acc[i][b] = _mm512_fmadd_ps(wv[i], xv, acc[i][b]);     \
            }                                                                                      \
        }                                                                                          \
        for (int i = 0; i < R; i++) {                                                              \
            const uint16_t *wr = w + (size_t)i * cols;                                             \
            for (int b = 0; b < NB; b++) {                                                         \
                float lanes[LANES];                                                                \
                _mm512_storeu_ps(lanes, acc[i][b]);                                                \
                float s = 0;                                                                       \
                for (int l = 0; l < LANES; l++) s += lanes[l];                                     \
                const float *xb = x + (size_t)b * cols;                                            \
                for (size_t k = body; k < cols; k++) s += xb[k] * WIDEN(wr[k]);                    \
                y[(size_t)b * ldy + (size_t)i] = bias ? s + bias[i] : s;                           \
            }                                                                                      \
        }                                                                                          \
    }

// Weight rows per block for NB input rows: as many as keep the accumulators in registers.
#define DEFINE_BLOCKS(PREFIX, WIDEN16, WIDEN)                                                      \
    DEFINE_BLOCK(PREFIX##_r1_b1, 1, 1, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b2, 1, 2, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b3, 1, 3, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b4, 1, 4, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b5, 1, 5, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b6, 1, 6, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b7, 1, 7, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r1_b8, 1, 8, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r4_b2, 4, 2, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r4_b3, 4, 3, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r4_b4, 4, 4, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r3_b5, 3, 5, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r3_b6, 3, 6, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r3_b7, 3, 7, WIDEN16, WIDEN)                                             \
    DEFINE_BLOCK(PREFIX##_r3_b8, 3, 8, WIDEN16, WIDEN)                                             \
    typedef void (*PREFIX##_fn)(const uint16_t *, const float *, const float *, float *, size_t, size_t, \
                                const uint16_t *);                                                 \
    static const PREFIX##_fn PREFIX##_single[GROUP + 1] = {0, PREFIX##_r1_b1, PREFIX##_r1_b2, PREFIX##_r1_b3, \
        PREFIX##_r1_b4, PREFIX##_r1_b5, PREFIX##_r1_b6, PREFIX##_r1_b7, PREFIX##_r1_b8};           \
    static const PREFIX##_fn PREFIX##_wide[GROUP + 1] = {0, PREFIX##_r1_b1, PREFIX##_r4_b2, PREFIX##_r4_b3, \
        PREFIX##_r4_b4, PREFIX##_r3_b5, PREFIX##_r3_b6, PREFIX##_r3_b7, PREFIX##_r3_b8};           \
    static const int PREFIX##_height[GROUP + 1] = {0, 1, 4, 4, 4, 3, 3, 3, 3};                     \
    /* Batches above eight read the matrix once per group of eight. Blocks prefetch the block two  \
       ahead (one to eight ahead measured alike); the last ones re-touch their own rows. */        \
    static void PREFIX(const uint16_t *w, const float *x, const float *bias, float *y, size_t ldy, size_t rows, \
                       size_t cols, size_t batch) {                                                \
        for (size_t first = 0; first < batch; first += GROUP) {                                    \
            size_t count = batch - first < GROUP ? batch - first : GROUP;                          \
            size_t height = (size_t)PREFIX##_height[count], r = 0;                                 \
            const float *xs = x + first * cols;                                                    \
            float *ys = y + first * ldy;                                                           \
            for (; r + height <= rows; r += height) {                                              \
                const uint16_t *ahead = w + (r + 3 * height <= rows ? r + 2 * height : r) * cols;  \
                PREFIX##_wide[count](w + r * cols, xs, bias ? bias + r : 0, ys + r, ldy, cols, ahead); \
            }                                                                                      \
            for (; r < rows; r++)                                                                  \
                PREFIX##_single[count](w + r * cols, xs, bias ? bias + r : 0, ys + r, ldy, cols, w + r * cols); \
        }                                                                                          \
    }

DEFINE_BLOCKS(gemv_bf16_batch_avx512, widen16_bf16, mg_bf16_widen)
DEFINE_BLOCKS(gemv_f16_batch_avx512, widen16_f16, mg_f16_widen)
#endif

void mg_gemv_bf16_batch(const uint16_t *w, const float *x, const float *bias, float *y, size_t ldy, size_t rows,
                        size_t cols, size_t batch) {
#ifdef GEMV_BATCH_TIERS
    int tier = mg_kernel_tier();
    if (tier >= MG_TIER_AVX512) return gemv_bf16_batch_avx512(w, x, bias, y, ldy, rows, cols, batch);
    if (tier == MG_TIER_AVX2) return gemv_bf16_batch_avx2(w, x, bias, y, ldy, rows, cols, batch);
#endif
    gemv_bf16_batch_baseline(w, x, bias, y, ldy, rows, cols, batch);
}

void mg_gemv_f16_batch(const uint16_t *w, const float *x, const float *bias, float *y, size_t ldy, size_t rows,
                       size_t cols, size_t batch) {
#ifdef GEMV_BATCH_TIERS
    int tier = mg_kernel_tier();
    if (tier >= MG_TIER_AVX512) return gemv_f16_batch_avx512(w, x, bias, y, ldy, rows, cols, batch);
    if (tier == MG_TIER_AVX2) return gemv_f16_batch_avx2(w, x, bias, y, ldy, rows, cols, batch);
#endif
    gemv_f16_batch_baseline(w, x, bias, y, ldy, rows, cols, batch);
}
