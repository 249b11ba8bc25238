// Batched decode GEMV with bf16 activations (mg_gemv_batched_bf16act.h). A step of B sequences is
// compute-bound at B = 8 in the exact form (16 F32 FMAs per weight pair); with bf16 activations one
// vdpbf16ps covers a pair of columns for 16 lanes, so the same registers do twice the products.
// Register block: 3 weight rows × up to 8 activation rows = 24 accumulators, 3 weight vectors and
// one activation vector live; the next block's rows are prefetched into L2 at the same columns,
// since every weight row of a 2048-wide matrix starts a new page for the hardware prefetcher.
#include "mg_gemv_batched_bf16act.h"
#include "mg_cpu_tier.h"
#include <string.h>

static inline float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static void gemv_portable(const uint16_t *w, const uint16_t *x, const float *bias, float *y, size_t ldy,
                          size_t rows, size_t cols, size_t batch) {
    for (size_t r = 0; r < rows; r++) {
        const uint16_t *wr = w + r * cols;
        for (size_t b = 0; b < batch; b++) {
            const uint16_t *xb = x + b * cols;
            float sum = 0;
            for (size_t c = 0; c < cols; c++) sum += bf16_to_f32(wr[c]) * bf16_to_f32(xb[c]);
            y[b * ldy + r] = sum + (bias ? bias[r] : 0.0f);
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define MG_BF16ACT_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

// NW weight rows × NB activation rows over all columns; the column tail is a masked load (zeros
// contribute nothing). Constant bounds let the compiler keep `acc` in registers.
#define DEFINE_BLOCK(NW, NB)                                                                                   \
    MG_BF16ACT_TARGET static void block_##NW##_##NB(const uint16_t *w, const uint16_t *x, const float *bias,  \
                                                    float *y, size_t ldy, size_t cols, size_t prefetch_rows) { \
        __m512 acc[NW][NB];                                                                                    \
        for (int j = 0; j < NW; j++)                                                                           \
            for (int b = 0; b < NB; b++) acc[j][b] = _mm512_setzero_ps();                                      \
        size_t c = 0;                                                                                          \
        for (; c + 32 <= cols; c += 32) {                                                                      \
            __m512bh wv[NW];                                                                                   \
            for (int j = 0; j < NW; j++) {                                                                     \
                wv[j] = (__m512bh)_mm512_loadu_si512((const void *)(w + j * cols + c));                       \
                if (prefetch_rows > (size_t)j) _mm_prefetch((const char *)(w + (NW + j) * cols + c), _MM_HINT_T1); \
            }                                                                                                  \
            for (int b = 0; b < NB; b++) {                                                                     \
                __m512bh xv = (__m512bh)_mm512_loadu_si512((const void *)(x + b * cols + c));                 \
                for (int j = 0; j < NW; j++) acc[j][b] = _mm512_dpbf16_ps(acc[j][b], xv, wv[j]);             \
            }                                                                                                  \
        }                                                                                                      \
        if (c < cols) {                                                                                        \
            __mmask32 mask = (__mmask32)((1ull << (cols - c)) - 1);                                            \
            __m512bh wv[NW];                                                                                   \
            for (int j = 0; j < NW; j++) wv[j] = (__m512bh)_mm512_maskz_loadu_epi16(mask, w + j * cols + c);   \
            for (int b = 0; b < NB; b++) {                                                                     \
                __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + b * cols + c);                      \
                for (int j = 0; j < NW; j++) acc[j][b] = _mm512_dpbf16_ps(acc[j][b], xv, wv[j]);             \
            }                                                                                                  \
        }                                                                                                      \
        for (int j = 0; j < NW; j++)                                                                           \
            for (int b = 0; b < NB; b++)                                                                       \
                y[b * ldy + j] = _mm512_reduce_add_ps(acc[j][b]) + (bias ? bias[j] : 0.0f);                    \
    }

#define DEFINE_BLOCKS(NB) DEFINE_BLOCK(3, NB) DEFINE_BLOCK(1, NB)
DEFINE_BLOCKS(1)
DEFINE_BLOCKS(2)
DEFINE_BLOCKS(3)
DEFINE_BLOCKS(4)
DEFINE_BLOCKS(5)
DEFINE_BLOCKS(6)
DEFINE_BLOCKS(7)
DEFINE_BLOCKS(8)

typedef void (*block_fn)(const uint16_t *, const uint16_t *, const float *, float *, size_t, size_t, size_t);
static const block_fn blocks3[8] = {block_3_1, block_3_2, block_3_3, block_3_4, block_3_5, block_3_6, block_3_7, block_3_8};
static const block_fn blocks1[8] = {block_1_1, block_1_2, block_1_3, block_1_4, block_1_5, block_1_6, block_1_7, block_1_8};

static void gemv_avx512bf16(const uint16_t *w, const uint16_t *x, const float *bias, float *y, size_t ldy,
                            size_t rows, size_t cols, size_t batch) {
    size_t r = 0;
    for (; r + 3 <= rows; r += 3) {
        size_t ahead = rows - r - 3 < 3 ? rows - r - 3 : 3;
        for (size_t b = 0; b < batch; b += 8) {
            size_t nb = batch - b < 8 ? batch - b : 8;
            blocks3[nb - 1](w + r * cols, x + b * cols, bias ? bias + r : NULL, y + b * ldy + r, ldy, cols,
                            b == 0 ? ahead : 0);
        }
    }
    for (; r < rows; r++) {
        for (size_t b = 0; b < batch; b += 8) {
            size_t nb = batch - b < 8 ? batch - b : 8;
            blocks1[nb - 1](w + r * cols, x + b * cols, bias ? bias + r : NULL, y + b * ldy + r, ldy, cols, 0);
        }
    }
}
#endif

void mg_gemv_bf16_batch_bf16act(const uint16_t *w, const uint16_t *x, const float *bias, float *y, size_t ldy,
                                size_t rows, size_t cols, size_t batch) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (mg_kernel_tier() >= MG_TIER_AVX512BF16) {
        gemv_avx512bf16(w, x, bias, y, ldy, rows, cols, batch);
        return;
    }
#endif
    gemv_portable(w, x, bias, y, ldy, rows, cols, batch);
}
