// BF16-weight GEMM on Intel AMX tiles with F32-exact-ish activations (see mg_gemm_amx.h).
//
// Tiles: C0..C3 (t0–t3) hold a 32 × 32 block of y in F32; t4/t5 hold 16 rows × 32 k of the
// activations (hi, then lo, reloaded into the same two tiles); t6/t7 hold 32 k × 16 columns of
// the weight in the "VNNI" pair layout TDPBF16PS wants (row p = the k pairs 2p, 2p+1 of 16
// columns). Each 32-k step is therefore 6 tile loads for 8 TDPBF16PS, which keeps the load ports
// well below the multiply rate.
//
// Blocking: per call, 256-column chunks of the weight are packed up to 1024 k at a time (512 KB,
// in L2); for every 32-row block of x (its k slice, ≤ 128 KB hi+lo, also in L2) the packed chunk
// is streamed through eight 32 × 32 output blocks. Their F32 sums live in a private buffer
// (rows × 256, padded) between k slices, meant to stay in L2, and are written to y once per chunk:
// y's own rows are N floats apart, so tile loads from it would miss the TLB row after row. Long
// slices matter: every slice costs a tile load and store of each output block, which at 256 k
// (16 products per block) kept the one-pass product at the two-pass speed.
#include "mg_gemm_amx.h"
#include <stdlib.h>
#include <string.h>

#define TILE_ELEMENTS 512 // 16 rows × 64 bytes of bf16
#define COLUMN_BLOCKS_PER_CHUNK 8
#ifndef K_SLICE
#define K_SLICE 1024
#endif
// Row stride of the per-call F32 sums of one chunk: 256 columns plus one cache line, so the 16
// rows a tile load or store touches do not all fall into the same L1 set.
#define SUMS_STRIDE (COLUMN_BLOCKS_PER_CHUNK * MG_AMX_BLOCK + 16)

static inline uint16_t bf16_round(float value) {
    uint32_t bits;
    memcpy(&bits, &value, 4);
    // Round to nearest even; NaN keeps a quiet payload.
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u);
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

static inline float bf16_widen(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float value;
    memcpy(&value, &bits, 4);
    return value;
}

size_t mg_amx_packed_x_count(size_t rows, size_t k) {
    size_t blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    // Per block and 32-k step: hi rows 0–15, hi rows 16–31, lo rows 0–15, lo rows 16–31.
    return blocks * (k / MG_AMX_K_STEP) * 4 * TILE_ELEMENTS;
}

static inline void pack_x_blocks(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin,
                                 size_t block_end, uint16_t *packed, int with_lo);

MG_MULTIVERSION
void mg_amx_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                   uint16_t *packed) {
    pack_x_blocks(x, ldx, rows, k, block_begin, block_end, packed, 1);
}

MG_MULTIVERSION
void mg_amx_pack_x_rounded(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                           uint16_t *packed) {
    pack_x_blocks(x, ldx, rows, k, block_begin, block_end, packed, 0);
}

// The lo tiles are left unwritten when `with_lo` is 0 (the one-pass product never reads them).
static inline __attribute__((always_inline)) void pack_x_blocks(const float *x, size_t ldx, size_t rows, size_t k,
                                                                size_t block_begin, size_t block_end,
                                                                uint16_t *packed, int with_lo) {
    size_t steps = k / MG_AMX_K_STEP;
    for (size_t block = block_begin; block < block_end; block++) {
        uint16_t *out = packed + block * steps * 4 * TILE_ELEMENTS;
        for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
            size_t row = block * MG_AMX_BLOCK + r;
            // Tile (r / 16) of each step, row r % 16; the lo tile sits two tiles later.
            uint16_t *hi_row = out + (r / 16) * TILE_ELEMENTS + (r % 16) * MG_AMX_K_STEP;
            if (row >= rows) {
                for (size_t s = 0; s < steps; s++) {
                    memset(hi_row + s * 4 * TILE_ELEMENTS, 0, MG_AMX_K_STEP * 2);
                    if (with_lo) memset(hi_row + s * 4 * TILE_ELEMENTS + 2 * TILE_ELEMENTS, 0, MG_AMX_K_STEP * 2);
                }
                continue;
            }
            const float *source = x + row * ldx;
            for (size_t s = 0; s < steps; s++) {
                uint16_t *hi = hi_row + s * 4 * TILE_ELEMENTS, *lo = hi + 2 * TILE_ELEMENTS;
                if (!with_lo) {
                    for (int i = 0; i < MG_AMX_K_STEP; i++) hi[i] = bf16_round(source[s * MG_AMX_K_STEP + i]);
                    continue;
                }
                for (int i = 0; i < MG_AMX_K_STEP; i++) {
                    float value = source[s * MG_AMX_K_STEP + i];
                    uint16_t h = bf16_round(value);
                    float high = bf16_widen(h);
                    // x − hi is exact in F32; an infinite or NaN hi leaves nothing to correct.
                    int finite = (h & 0x7f80u) != 0x7f80u;
                    hi[i] = h;
                    lo[i] = finite ? bf16_round(value - high) : 0;
                }
            }
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && defined(__linux__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_state = 0;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned eax, ebx, ecx, edx;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int has_tile = (edx >> 24) & 1, has_bf16 = (edx >> 22) & 1;
    if (!has_tile || !has_bf16) return;
    __cpuid(1, eax, ebx, ecx, edx);
    if (!((ecx >> 27) & 1)) return; // OSXSAVE, needed for xgetbv
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    // XTILECFG (17) and XTILEDATA (18) enabled by the OS.
    if (((lo >> 17) & 3u) != 3u) return;
    // Linux hands out the 8 KB tile state only on request; without it the first tile
    // instruction faults.
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return;
    amx_state = 1;
}

int mg_amx_bf16_available(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_state;
}

struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t column_bytes[16];
    uint8_t rows[16];
};

#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))

// Transposes 16 rows of 16 uint32 (the k pairs of 16 weight columns) into 16 rows holding one
// pair from each column: 32-bit then 64-bit interleaves, then two 128-bit lane shuffles.
AMX_TARGET
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
AMX_TARGET
static void pack_weight_block(const uint16_t *w, size_t n, size_t k, size_t column, size_t k0, size_t steps,
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

// One 32 × 32 output block over `steps` 32-k steps; c has a row stride of `ldc` floats.
AMX_TARGET
static void block_product(const uint16_t *x_tiles, const uint16_t *w_tiles, size_t steps, float *c, size_t ldc,
                          int load, int passes) {
    size_t stride = ldc * sizeof(float);
    if (load) {
        _tile_loadd(0, c, stride);
        _tile_loadd(1, c + 16, stride);
        _tile_loadd(2, c + 16 * ldc, stride);
        _tile_loadd(3, c + 16 * ldc + 16, stride);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (size_t s = 0; s < steps; s++) {
        _tile_loadd(6, w_tiles, 64);
        _tile_loadd(7, w_tiles + TILE_ELEMENTS, 64);
        _tile_loadd(4, x_tiles, 64);
        _tile_loadd(5, x_tiles + TILE_ELEMENTS, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
        if (passes > 1) {
            _tile_loadd(4, x_tiles + 2 * TILE_ELEMENTS, 64);
            _tile_loadd(5, x_tiles + 3 * TILE_ELEMENTS, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        x_tiles += 4 * TILE_ELEMENTS;
        w_tiles += 2 * TILE_ELEMENTS;
    }
    _tile_stored(0, c, stride);
    _tile_stored(1, c + 16, stride);
    _tile_stored(2, c + 16 * ldc, stride);
    _tile_stored(3, c + 16 * ldc + 16, stride);
}

AMX_TARGET
int mg_amx_gemm_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                     size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate) {
    return mg_amx_gemm_bf16_passes(packed_x, rows, k, w, n, column_block_begin, column_block_end, y, ldy, accumulate,
                                   2);
}

AMX_TARGET
int mg_amx_gemm_bf16_passes(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                            size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                            int passes) {
    if (!mg_amx_bf16_available() || k % MG_AMX_K_STEP != 0) return -1;
    size_t steps_total = k / MG_AMX_K_STEP;
    size_t row_blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t slice_steps_max = K_SLICE / MG_AMX_K_STEP;
    uint16_t *packed_w = aligned_alloc(64, COLUMN_BLOCKS_PER_CHUNK * slice_steps_max * 2 * TILE_ELEMENTS * 2);
    float *sums = aligned_alloc(64, row_blocks * MG_AMX_BLOCK * SUMS_STRIDE * sizeof(float));
    if (!packed_w || !sums) {
        free(packed_w);
        free(sums);
        return -1;
    }
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.rows[t] = 16;
        config.column_bytes[t] = 64;
    }
    _tile_loadconfig(&config);

    for (size_t chunk = column_block_begin; chunk < column_block_end; chunk += COLUMN_BLOCKS_PER_CHUNK) {
        size_t chunk_blocks = column_block_end - chunk < COLUMN_BLOCKS_PER_CHUNK ? column_block_end - chunk
                                                                                   : COLUMN_BLOCKS_PER_CHUNK;
        for (size_t step0 = 0; step0 < steps_total; step0 += slice_steps_max) {
            size_t steps = steps_total - step0 < slice_steps_max ? steps_total - step0 : slice_steps_max;
            for (size_t b = 0; b < chunk_blocks; b++) {
                pack_weight_block(w, n, k, (chunk + b) * MG_AMX_BLOCK, step0 * MG_AMX_K_STEP, steps,
                                  packed_w + b * steps * 2 * TILE_ELEMENTS);
            }
            for (size_t rb = 0; rb < row_blocks; rb++) {
                const uint16_t *x_tiles = packed_x + (rb * steps_total + step0) * 4 * TILE_ELEMENTS;
                float *row_sums = sums + rb * MG_AMX_BLOCK * SUMS_STRIDE;
                for (size_t b = 0; b < chunk_blocks; b++) {
                    block_product(x_tiles, packed_w + b * steps * 2 * TILE_ELEMENTS, steps,
                                  row_sums + b * MG_AMX_BLOCK, SUMS_STRIDE, step0 > 0, passes);
                }
            }
        }
        size_t column = chunk * MG_AMX_BLOCK;
        size_t end = (chunk + chunk_blocks) * MG_AMX_BLOCK < n ? (chunk + chunk_blocks) * MG_AMX_BLOCK : n;
        for (size_t r = 0; r < rows; r++) {
            float *target = y + r * ldy + column;
            const float *source = sums + r * SUMS_STRIDE;
            if (accumulate) {
                for (size_t c = 0; c < end - column; c++) target[c] += source[c];
            } else {
                memcpy(target, source, (end - column) * sizeof(float));
            }
        }
    }
    _tile_release();
    free(packed_w);
    free(sums);
    return 0;
}

#else

int mg_amx_bf16_available(void) { return 0; }

int mg_amx_gemm_bf16_passes(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                            size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                            int passes) {
    (void)packed_x, (void)rows, (void)k, (void)w, (void)n, (void)column_block_begin, (void)column_block_end;
    (void)y, (void)ldy, (void)accumulate, (void)passes;
    return -1;
}

int mg_amx_gemm_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                     size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate) {
    (void)packed_x, (void)rows, (void)k, (void)w, (void)n, (void)column_block_begin, (void)column_block_end;
    (void)y, (void)ldy, (void)accumulate;
    return -1;
}

#endif
