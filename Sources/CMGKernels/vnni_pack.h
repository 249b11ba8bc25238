// Private to CMGKernels: the bf16 packing shared by the AMX tile kernels and the AVX-512-BF16
// kernels (both use the same layouts: weights in the "VNNI" pair layout, 32 k per step; activations
// as rows of 32 bf16 per step, hi then lo). x86-64 only; include after mg_gemm_amx.h.
#ifndef MG_VNNI_PACK_H
#define MG_VNNI_PACK_H
#include "mg_gemm_amx.h"
#include <immintrin.h>
#include <string.h>

#define TILE_ELEMENTS 512 // 16 rows × 64 bytes of bf16
#define VNNI_PACK_TARGET __attribute__((target("avx512f,avx512bw")))
#define VNNI_ROW_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// Transposes 16 rows of 16 uint32 (the k pairs of 16 weight columns) into 16 rows holding one
// pair from each column: 32-bit then 64-bit interleaves, then two 128-bit lane shuffles.
VNNI_PACK_TARGET
static inline void transpose_pairs(const uint16_t *const rows[16], size_t offset, uint32_t *out) {
    __m512i a[16], t[16], u[16];
    for (int i = 0; i < 16; i++) a[i] = _mm512_loadu_si512((const void *)(rows[i] + offset));
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(a[i], a[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(a[i], a[i + 1]);
    }
    // u[4q + g]: pairs 4L + q of rows 4g…4g+3, in 128-bit lane L.
    for (int g = 0; g < 4; g++) {
        u[0 + g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        u[4 + g] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        u[8 + g] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        u[12 + g] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
    }
    for (int q = 0; q < 4; q++) {
        __m512i *group = u + 4 * q;
        __m512i v0 = _mm512_shuffle_i32x4(group[0], group[1], _MM_SHUFFLE(2, 0, 2, 0));
        __m512i v1 = _mm512_shuffle_i32x4(group[0], group[1], _MM_SHUFFLE(3, 1, 3, 1));
        __m512i v2 = _mm512_shuffle_i32x4(group[2], group[3], _MM_SHUFFLE(2, 0, 2, 0));
        __m512i v3 = _mm512_shuffle_i32x4(group[2], group[3], _MM_SHUFFLE(3, 1, 3, 1));
        _mm512_storeu_si512((void *)(out + (0 + q) * 16), _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_si512((void *)(out + (4 + q) * 16), _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(2, 0, 2, 0)));
        _mm512_storeu_si512((void *)(out + (8 + q) * 16), _mm512_shuffle_i32x4(v0, v2, _MM_SHUFFLE(3, 1, 3, 1)));
        _mm512_storeu_si512((void *)(out + (12 + q) * 16), _mm512_shuffle_i32x4(v1, v3, _MM_SHUFFLE(3, 1, 3, 1)));
    }
}

// Packs columns [column, column + 32) × k [k0, k0 + steps · 32) of w into 2 tiles per step;
// columns past n are zero.
VNNI_PACK_TARGET
static inline void pack_weight_block(const uint16_t *w, size_t n, size_t k, size_t column, size_t k0, size_t steps,
                              uint16_t *out) {
    for (int half = 0; half < 2; half++) {
        uint32_t *tile = (uint32_t *)(out + half * TILE_ELEMENTS);
        size_t first = column + (size_t)half * 16;
        if (first + 16 <= n) {
            const uint16_t *rows[16];
            for (int c = 0; c < 16; c++) rows[c] = w + (first + (size_t)c) * k + k0;
            for (size_t s = 0; s < steps; s++) transpose_pairs(rows, s * MG_AMX_K_STEP, tile + s * 2 * 256);
            continue;
        }
        for (int c = 0; c < 16; c++) {
            size_t col = first + (size_t)c;
            for (size_t s = 0; s < steps; s++) {
                uint32_t *step_tile = tile + s * 2 * 256;
                for (int p = 0; p < 16; p++) {
                    uint32_t pair = 0;
                    if (col < n) memcpy(&pair, w + col * k + k0 + s * MG_AMX_K_STEP + 2 * (size_t)p, 4);
                    step_tile[(size_t)p * 16 + (size_t)c] = pair;
                }
            }
        }
    }
}


/// Packs one row of F32 activations, `steps` × 32 values from `source`, into its row of the hi
/// tiles (`hi_row`, advancing `per_step` elements per step) and, with `with_lo`, of the lo tiles two
/// tiles later: hi = bf16(x) rounded to nearest even, lo = bf16(x − hi) (0 where hi is not finite).
/// The bf16 conversions treat denormal inputs as zero (|x| < 2⁻¹²⁶ is dropped).
VNNI_ROW_TARGET
static inline void pack_row(const float *source, size_t steps, uint16_t *hi_row, size_t per_step, int with_lo) {
    for (size_t s = 0; s < steps; s++) {
        __m512 a = _mm512_loadu_ps(source + s * MG_AMX_K_STEP), b = _mm512_loadu_ps(source + s * MG_AMX_K_STEP + 16);
        __m512i hi = (__m512i)_mm512_cvtne2ps_pbh(b, a);
        uint16_t *out = hi_row + s * per_step;
        _mm512_storeu_si512((void *)out, hi);
        if (!with_lo) continue;
        __m512 high_a = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(hi)), 16));
        __m512 high_b =
            _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hi, 1)), 16));
        __m512 infinity = _mm512_set1_ps(__builtin_inff());
        __mmask16 finite_a = _mm512_cmp_ps_mask(_mm512_abs_ps(high_a), infinity, _CMP_LT_OQ);
        __mmask16 finite_b = _mm512_cmp_ps_mask(_mm512_abs_ps(high_b), infinity, _CMP_LT_OQ);
        __m512 rest_a = _mm512_maskz_sub_ps(finite_a, a, high_a), rest_b = _mm512_maskz_sub_ps(finite_b, b, high_b);
        _mm512_storeu_si512((void *)(out + 2 * TILE_ELEMENTS), (__m512i)_mm512_cvtne2ps_pbh(rest_b, rest_a));
    }
}

#endif
