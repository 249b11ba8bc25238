// F32 GEMM C = A · B on AMX BF16 tiles with each operand split into two bf16 halves (see
// mg_gemm_amx.h, mg_amx_gemm_split).
//
// A (m × k, typically a weight) is packed once by mg_amx_pack_x: per 32-row block and 32-k step,
// four 16 × 32 tiles (hi rows 0–15, hi rows 16–31, lo rows 0–15, lo rows 16–31). B (k × n,
// typically activations with pixels as columns) is packed per call into the "VNNI" pair layout
// TDPBF16PS wants for its second operand: per 32-column block and 32-k step, four tiles (hi
// columns 0–15, hi columns 16–31, lo 0–15, lo 16–31) whose row p holds the pairs
// (B[2p][j], B[2p+1][j]) of 16 columns j. Three products per step (Ahi·Bhi, Alo·Bhi, Ahi·Blo)
// leave out only Alo·Blo, about 2^-16 of each term, so results stay near F32 accuracy.
//
// Blocking: each call owns a range of 32-column blocks of C and walks it in chunks of 8 blocks.
// A chunk's B slice (up to 1 MB: 8 blocks × up to 32 k steps) is packed once into L2 and every
// 32-row block of A (its k slice, ≤ 128 KB) is streamed past it. C accumulates in place across
// k slices (tile load and store per block and slice).
#include "mg_gemm_amx.h"
#include <stdlib.h>
#include <string.h>

#define TILE_ELEMENTS 512
#define CHUNK_BLOCKS 8
#define SLICE_STEPS_MAX 32

size_t mg_amx_packed_b_count(size_t k, size_t column_blocks) {
    return column_blocks * (k / MG_AMX_K_STEP) * 4 * TILE_ELEMENTS;
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && defined(__linux__)
#include "amx_tiles.h"

// hi = bf16(x) (round to nearest even), lo = bf16(x − hi); lo is 0 where hi is not finite.
AMX_TARGET
static inline void split16(__m512 x, __m512i *hi_bits, __m512i *lo_bits) {
    __m256i h = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 high = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    __m512 magnitude = _mm512_abs_ps(high);
    __mmask16 finite = _mm512_cmp_ps_mask(magnitude, _mm512_set1_ps(__builtin_inff()), _CMP_LT_OQ);
    __m512 rest = _mm512_maskz_sub_ps(finite, x, high);
    __m256i l = (__m256i)_mm512_cvtneps_pbh(rest);
    *hi_bits = _mm512_cvtepu16_epi32(h);
    *lo_bits = _mm512_cvtepu16_epi32(l);
}

// Packs B rows [k0, k0 + steps·32) of the `blocks` 32-column blocks starting at `column` (zero
// past n) into `out` (per block: steps × 4 tiles). Rows are read left to right across the whole
// chunk, so each B row segment streams contiguously (B's rows are usually far apart in memory).
AMX_TARGET
static void pack_b_chunk(const float *b, size_t ldb, size_t n, size_t column, size_t blocks, size_t k0,
                         size_t steps, uint16_t *out) {
    for (size_t s = 0; s < steps; s++) {
        for (int p = 0; p < 16; p++) {
            const float *even_row = b + (k0 + s * MG_AMX_K_STEP + (size_t)(2 * p)) * ldb;
            const float *odd_row = even_row + ldb;
            for (size_t j = 0; j < blocks * 2; j++) {
                size_t first = column + j * 16;
                size_t valid = first >= n ? 0 : (n - first < 16 ? n - first : 16);
                __mmask16 mask = (__mmask16)((1u << valid) - 1u);
                __m512 even = _mm512_maskz_loadu_ps(mask, even_row + first);
                __m512 odd = _mm512_maskz_loadu_ps(mask, odd_row + first);
                __m512i even_hi, even_lo, odd_hi, odd_lo;
                split16(even, &even_hi, &even_lo);
                split16(odd, &odd_hi, &odd_lo);
                uint16_t *block = out + ((j / 2) * steps + s) * 4 * TILE_ELEMENTS;
                uint32_t *hi_tile = (uint32_t *)(block + (j % 2) * TILE_ELEMENTS);
                uint32_t *lo_tile = (uint32_t *)(block + (2 + j % 2) * TILE_ELEMENTS);
                _mm512_storeu_si512((void *)(hi_tile + p * 16), _mm512_or_si512(even_hi, _mm512_slli_epi32(odd_hi, 16)));
                _mm512_storeu_si512((void *)(lo_tile + p * 16), _mm512_or_si512(even_lo, _mm512_slli_epi32(odd_lo, 16)));
            }
        }
    }
}

// One 32 × 32 block of C over `steps` 32-k steps; c has a row stride of `ldc` floats.
AMX_TARGET
static void split_block_product(const uint16_t *a_tiles, const uint16_t *b_tiles, size_t steps, float *c,
                                size_t ldc, int load) {
    accumulators_begin(c, ldc, load);
    for (size_t s = 0; s < steps; s++) {
        _tile_loadd(6, b_tiles, 64);
        _tile_loadd(7, b_tiles + TILE_ELEMENTS, 64);
        _tile_loadd(4, a_tiles, 64);
        _tile_loadd(5, a_tiles + TILE_ELEMENTS, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
        _tile_loadd(4, a_tiles + 2 * TILE_ELEMENTS, 64);
        _tile_loadd(5, a_tiles + 3 * TILE_ELEMENTS, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
        _tile_loadd(6, b_tiles + 2 * TILE_ELEMENTS, 64);
        _tile_loadd(7, b_tiles + 3 * TILE_ELEMENTS, 64);
        _tile_loadd(4, a_tiles, 64);
        _tile_loadd(5, a_tiles + TILE_ELEMENTS, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
        a_tiles += 4 * TILE_ELEMENTS;
        b_tiles += 4 * TILE_ELEMENTS;
    }
    accumulators_store(c, ldc);
}

AMX_TARGET
int mg_amx_gemm_split(const uint16_t *packed_a, size_t m, size_t k, const float *b, size_t ldb, size_t n,
                      size_t column_block_begin, size_t column_block_end, float *c, size_t ldc, int accumulate) {
    if (!mg_amx_bf16_available() || k % MG_AMX_K_STEP != 0) return -1;
    size_t steps_total = k / MG_AMX_K_STEP;
    size_t row_blocks = (m + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t slice_max = steps_total < SLICE_STEPS_MAX ? steps_total : SLICE_STEPS_MAX;
    uint16_t *packed_b = aligned_alloc(64, CHUNK_BLOCKS * slice_max * 4 * TILE_ELEMENTS * sizeof(uint16_t));
    if (!packed_b) return -1;
    // Edge blocks (past m or n) go through this buffer so tiles never touch memory outside C.
    float edge[MG_AMX_BLOCK * MG_AMX_BLOCK] __attribute__((aligned(64)));

    configure_tiles();

    // Equal chunks of at most CHUNK_BLOCKS: each chunk streams all of A once, so a short last chunk
    // would cost as much A traffic as a full one.
    size_t total_blocks = column_block_end > column_block_begin ? column_block_end - column_block_begin : 0;
    size_t chunk_count = (total_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
    size_t chunk = column_block_begin;
    for (size_t index = 0; index < chunk_count; index++) {
        size_t blocks = total_blocks / chunk_count + (index < total_blocks % chunk_count ? 1 : 0);
        for (size_t step0 = 0; step0 < steps_total; step0 += slice_max) {
            size_t steps = steps_total - step0 < slice_max ? steps_total - step0 : slice_max;
            pack_b_chunk(b, ldb, n, chunk * MG_AMX_BLOCK, blocks, step0 * MG_AMX_K_STEP, steps, packed_b);
            int load = accumulate || step0 > 0;
            for (size_t rb = 0; rb < row_blocks; rb++) {
                const uint16_t *a_tiles = packed_a + (rb * steps_total + step0) * 4 * TILE_ELEMENTS;
                size_t row = rb * MG_AMX_BLOCK;
                size_t valid_rows = m - row < MG_AMX_BLOCK ? m - row : MG_AMX_BLOCK;
                for (size_t j = 0; j < blocks; j++) {
                    size_t column = (chunk + j) * MG_AMX_BLOCK;
                    size_t valid_columns = n - column < MG_AMX_BLOCK ? n - column : MG_AMX_BLOCK;
                    const uint16_t *b_tiles = packed_b + j * steps * 4 * TILE_ELEMENTS;
                    float *target = c + row * ldc + column;
                    if (valid_rows == MG_AMX_BLOCK && valid_columns == MG_AMX_BLOCK) {
                        split_block_product(a_tiles, b_tiles, steps, target, ldc, load);
                        continue;
                    }
                    memset(edge, 0, sizeof edge);
                    if (load) {
                        for (size_t r = 0; r < valid_rows; r++)
                            memcpy(edge + r * MG_AMX_BLOCK, target + r * ldc, valid_columns * sizeof(float));
                    }
                    split_block_product(a_tiles, b_tiles, steps, edge, MG_AMX_BLOCK, load);
                    for (size_t r = 0; r < valid_rows; r++)
                        memcpy(target + r * ldc, edge + r * MG_AMX_BLOCK, valid_columns * sizeof(float));
                }
            }
        }
        chunk += blocks;
    }
    _tile_release();
    free(packed_b);
    return 0;
}

#else

int mg_amx_gemm_split(const uint16_t *packed_a, size_t m, size_t k, const float *b, size_t ldb, size_t n,
                      size_t column_block_begin, size_t column_block_end, float *c, size_t ldc, int accumulate) {
    (void)packed_a, (void)m, (void)k, (void)b, (void)ldb, (void)n, (void)column_block_begin;
    (void)column_block_end, (void)c, (void)ldc, (void)accumulate;
    return -1;
}

#endif
