// Matrix-vector products with 16-bit weights, for single-token decode. The weights dominate the
// memory traffic, so they are widened in registers and never written out as f32. Four rows share
// each load of x; sixteen independent lanes per row let the compiler use full vectors and hide the
// FMA latency (a plain scalar reduction would not vectorise without fast-math). The four rows come
// from four contiguous segments of the matrix, so each weight stream is sequential (see the AVX-512
// kernel below); a row's arithmetic does not depend on its neighbours.
#include "mg_gemv.h"
#include "mg_cpu_tier.h"
#include "half_widen.h"
#include <string.h>

#define LANES 16

static inline float lane_sum(const float *lanes) {
    float sum = 0;
    for (int l = 0; l < LANES; l++) sum += lanes[l];
    return sum;
}

#define DEFINE_GEMV(NAME, WIDEN, TARGET)                                                           \
    TARGET static void NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias,      \
              float *restrict y, size_t rows, size_t cols) {                                       \
        size_t body = cols - cols % LANES;                                                         \
        size_t per = rows / 4, r = 4 * per;                                                        \
        for (size_t k = 0; k < per; k++) {                                                         \
            size_t r0 = k, r1 = per + k, r2 = 2 * per + k, r3 = 3 * per + k;                       \
            const uint16_t *w0 = w + r0 * cols, *w1 = w + r1 * cols, *w2 = w + r2 * cols, *w3 = w + r3 * cols; \
            float a0[LANES] = {0}, a1[LANES] = {0}, a2[LANES] = {0}, a3[LANES] = {0};              \
            for (size_t i = 0; i < body; i += LANES) {                                             \
                for (int l = 0; l < LANES; l++) {                                                  \
                    float xv = x[i + l];                                                           \
                    a0[l] += xv * WIDEN(w0[i + l]);                                                \
                    a1[l] += xv * WIDEN(w1[i + l]);                                                \
                    a2[l] += xv * WIDEN(w2[i + l]);                                                \
                    a3[l] += xv * WIDEN(w3[i + l]);                                                \
                }                                                                                  \
            }                                                                                      \
            float s0 = lane_sum(a0), s1 = lane_sum(a1), s2 = lane_sum(a2), s3 = lane_sum(a3);      \
            for (size_t i = body; i < cols; i++) {                                                 \
                s0 += x[i] * WIDEN(w0[i]);                                                         \
                s1 += x[i] * WIDEN(w1[i]);                                                         \
                s2 += x[i] * WIDEN(w2[i]);                                                         \
                s3 += x[i] * WIDEN(w3[i]);                                                         \
            }                                                                                      \
            if (bias) {                                                                            \
                s0 += bias[r0];                                                                    \
                s1 += bias[r1];                                                                    \
                s2 += bias[r2];                                                                    \
                s3 += bias[r3];                                                                    \
            }                                                                                      \
            y[r0] = s0;                                                                            \
            y[r1] = s1;                                                                            \
            y[r2] = s2;                                                                            \
            y[r3] = s3;                                                                            \
        }                                                                                          \
        for (; r < rows; r++) {                                                                    \
            const uint16_t *w0 = w + r * cols;                                                     \
            float a0[LANES] = {0};                                                                 \
            for (size_t i = 0; i < body; i += LANES) {                                             \
                for (int l = 0; l < LANES; l++) a0[l] += x[i + l] * WIDEN(w0[i + l]);              \
            }                                                                                      \
            float s0 = lane_sum(a0);                                                               \
            for (size_t i = body; i < cols; i++) s0 += x[i] * WIDEN(w0[i]);                        \
            y[r] = bias ? s0 + bias[r] : s0;                                                       \
        }                                                                                          \
    }

// One copy per kernel tier, chosen per call from mg_kernel_tier() (so MG_MAX_ISA caps it too). The
// portable loop's lanes are explicit, so its AVX2 and baseline copies sum in the same order (AVX2
// fuses each multiply-add as the compiler contracts them, the baseline rounds the product first);
// the AVX-512 tier uses the split-lane kernel below (its own order). F16 weights keep the portable
// loop at every tier.
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && !defined(MG_NO_MULTIVERSION)
#define GEMV_TIERS 1
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
DEFINE_GEMV(gemv_bf16_avx512, mg_bf16_widen, TARGET_AVX512)
DEFINE_GEMV(gemv_f16_avx512, mg_f16_widen, TARGET_AVX512)
DEFINE_GEMV(gemv_bf16_avx2, mg_bf16_widen, TARGET_AVX2)
DEFINE_GEMV(gemv_f16_avx2, mg_f16_widen, TARGET_AVX2)
#include <immintrin.h>
#include <stdlib.h>

// AVX-512 bf16 GEMV without widening shuffles: a 64-byte load holds 32 weights; shifting each
// 32-bit lane left by 16 gives the even-indexed weights as F32 and masking off the low half gives
// the odd ones, to be multiplied by x's even and odd elements (split once per call).
//
// The memory order is the one a plain read streams fastest: the rows are cut into S contiguous
// segments and one row of each is multiplied at a time, so each of the S weight streams walks its
// segment sequentially (rows are contiguous) and the hardware prefetcher follows it from row to
// row, helped by a software prefetch into L1 PREFETCH_BYTES ahead in each stream (and, with four
// streams, a second one FAR bytes further into L2). S is 4 while x's even and odd halves fit in L1
// next to the weights (≤ 4096 columns) and 8 above, where x comes from L2 and is better shared by
// more rows (the far prefetch did not help there). Each row's arithmetic does not depend on the
// rows it is grouped with, so no output bit depends on S. Benchmarks/kernels/decode_gemv_read.c
// and `MGTensorBenchmarks --filter decode` compare the kernel with a plain read of the same bytes
// (Documentation/Benchmarks.md, session 9).
#define PREFETCH_BYTES 256
TARGET_AVX512 static inline float row_tail(const uint16_t *w, const float *x, size_t from, size_t cols) {
    float sum = 0;
    for (size_t i = from; i < cols; i++) sum += x[i] * mg_bf16_widen(w[i]);
    return sum;
}

TARGET_AVX512 static inline float row_sum(__m512 acc_even, __m512 acc_odd, const uint16_t *row, const float *x,
                                          size_t body, size_t cols) {
    return _mm512_reduce_add_ps(_mm512_add_ps(acc_even, acc_odd)) + row_tail(row, x, body, cols);
}

// Rows [0, S·(rows/S)) in S lockstep segments; returns how many rows it did. FAR = 0: no L2 prefetch.
#define DEFINE_SEGMENTED(NAME, S, FAR)                                                             \
    TARGET_AVX512 static size_t NAME(const uint16_t *restrict w, const float *restrict x, const float *restrict bias, \
                                     float *restrict y, size_t rows, size_t cols, const float *even, const float *odd) { \
        size_t body = cols - cols % 32, per = rows / S;                                            \
        const __m512i high_half = _mm512_set1_epi32((int)0xffff0000u);                             \
        /* Prefetches stop at the matrix's end (a segment's last ones run into the next). */       \
        const char *end = (const char *)(w + rows * cols);                                         \
        for (size_t k = 0; k < per; k++) {                                                         \
            __m512 acc_even[S], acc_odd[S];                                                        \
            const uint16_t *row[S];                                                                \
            for (int i = 0; i < S; i++) {                                                          \
                acc_even[i] = acc_odd[i] = _mm512_setzero_ps();                                    \
                row[i] = w + ((size_t)i * per + k) * cols;                                         \
            }                                                                                      \
            for (size_t c = 0; c < body; c += 32) {                                                \
                __m512 xe = _mm512_loadu_ps(even + c / 2), xo = _mm512_loadu_ps(odd + c / 2);      \
                for (int i = 0; i < S; i++) {                                                      \
                    const char *ahead = (const char *)(row[i] + c) + PREFETCH_BYTES;               \
                    if (ahead < end) _mm_prefetch(ahead, _MM_HINT_T0);                             \
                    if (FAR && ahead + FAR < end) _mm_prefetch(ahead + FAR, _MM_HINT_T1);          \
                    __m512i v = _mm512_loadu_si512((const void *)(row[i] + c));                    \
                    acc_even[i] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), xe, acc_even[i]); \
                    acc_odd[i] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high_half)), xo, acc_odd[i]); \
                }                                                                                  \
            }                                                                                      \
            for (int i = 0; i < S; i++) {                                                          \
                size_t r = (size_t)i * per + k;                                                    \
                float sum = row_sum(acc_even[i], acc_odd[i], row[i], x, body, cols);               \
                y[r] = bias ? sum + bias[r] : sum;                                                 \
            }                                                                                      \
        }                                                                                          \
        return per * S;                                                                            \
    }
DEFINE_SEGMENTED(gemv_bf16_segments4, 4, 1024)
DEFINE_SEGMENTED(gemv_bf16_segments8, 8, 0)

TARGET_AVX512 static void gemv_bf16_split(const uint16_t *restrict w, const float *restrict x, const float *restrict bias,
                                          float *restrict y, size_t rows, size_t cols, float *even, float *odd) {
    size_t body = cols - cols % 32;
    // x's even and odd elements, 16 of each per 32 columns (every parallel chunk splits x again:
    // 16384 columns in the down projection).
    const __m512i even_index = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd_index = _mm512_add_epi32(even_index, _mm512_set1_epi32(1));
    for (size_t i = 0; i < body; i += 32) {
        __m512 low = _mm512_loadu_ps(x + i), high = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(even + i / 2, _mm512_permutex2var_ps(low, even_index, high));
        _mm512_storeu_ps(odd + i / 2, _mm512_permutex2var_ps(low, odd_index, high));
    }
    size_t done = cols > 4096 ? gemv_bf16_segments8(w, x, bias, y, rows, cols, even, odd)
                              : gemv_bf16_segments4(w, x, bias, y, rows, cols, even, odd);
    const __m512i high_half = _mm512_set1_epi32((int)0xffff0000u);
    for (size_t r = done; r < rows; r++) {
        const uint16_t *row = w + r * cols;
        __m512 acc_even = _mm512_setzero_ps(), acc_odd = _mm512_setzero_ps();
        for (size_t c = 0; c < body; c += 32) {
            __m512i v = _mm512_loadu_si512((const void *)(row + c));
            acc_even = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(even + c / 2), acc_even);
            acc_odd = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high_half)), _mm512_loadu_ps(odd + c / 2), acc_odd);
        }
        float sum = row_sum(acc_even, acc_odd, row, x, body, cols);
        y[r] = bias ? sum + bias[r] : sum;
    }
}

static void gemv_bf16_avx512_split(const uint16_t *w, const float *x, const float *bias, float *y, size_t rows,
                                   size_t cols) {
    float stack[2 * 4096];
    float *buffer = cols <= 8192 ? stack : malloc(cols * sizeof(float));
    if (!buffer) {
        gemv_bf16_avx512(w, x, bias, y, rows, cols);
        return;
    }
    gemv_bf16_split(w, x, bias, y, rows, cols, buffer, buffer + cols / 2);
    if (buffer != stack) free(buffer);
}
#endif
DEFINE_GEMV(gemv_bf16_baseline, mg_bf16_widen, )
DEFINE_GEMV(gemv_f16_baseline, mg_f16_widen, )

void mg_gemv_bf16(const uint16_t *w, const float *x, const float *bias, float *y, size_t rows, size_t cols) {
    mg_gemv_bf16_at(mg_kernel_tier(), w, x, bias, y, rows, cols);
}

void mg_gemv_bf16_at(int tier, const uint16_t *w, const float *x, const float *bias, float *y, size_t rows,
                     size_t cols) {
    if (tier > mg_kernel_tier_detected()) tier = mg_kernel_tier_detected();
#ifdef GEMV_TIERS
    if (tier >= MG_TIER_AVX512) return gemv_bf16_avx512_split(w, x, bias, y, rows, cols);
    if (tier == MG_TIER_AVX2) return gemv_bf16_avx2(w, x, bias, y, rows, cols);
#else
    (void)tier;
#endif
    gemv_bf16_baseline(w, x, bias, y, rows, cols);
}

void mg_gemv_f16(const uint16_t *w, const float *x, const float *bias, float *y, size_t rows, size_t cols) {
#ifdef GEMV_TIERS
    int tier = mg_kernel_tier();
    if (tier >= MG_TIER_AVX512) return gemv_f16_avx512(w, x, bias, y, rows, cols);
    if (tier == MG_TIER_AVX2) return gemv_f16_avx2(w, x, bias, y, rows, cols);
#endif
    gemv_f16_baseline(w, x, bias, y, rows, cols);
}

void mg_fill_rows(const float *bias, float *out, size_t rows, size_t cols, size_t ld) {
    for (size_t r = 0; r < rows; r++) memcpy(out + r * ld, bias, cols * sizeof(float));
}
