// BF16-weight GEMM on Intel AMX tiles (see mg_gemm_amx.h).
//
// Tiles: t0–t3 hold a 32 × 32 block of y in F32; t4/t5 hold 16 rows × 32 k of the activations
// (hi, then lo in the two-pass product, reloaded into the same two tiles); t6/t7 hold 32 k × 16
// columns of the weight in the "VNNI" pair layout TDPBF16PS wants (row p = the k pairs 2p, 2p+1
// of 16 columns). A 32-k step is 4 tile loads for 4 TDPBF16PS (6 for 8 with two passes).
//
// Blocking: each call walks its column blocks in chunks of up to 8 (256 columns). A chunk's
// weights are packed up to 2048 k at a time (1 MB, in L2; the buffer is per thread and reused
// across calls), then every 32-row block of x (its k slice, 128 KB per pass) is streamed past
// them. An output block stays in the tile registers for the whole slice and is stored once into
// y (loaded back for the next slice when k > 2048), so with k ≤ 2048 each output is written exactly
// once, straight from the tiles, with no F32 staging buffer. The load order (both weight tiles,
// then both activation tiles, then the four products) measured fastest from L2 on Sapphire/Emerald
// Rapids; interleaving loads and products the other way ran at a third of the speed.
#include "mg_gemm_amx.h"
#include <stdlib.h>
#include <string.h>

#define PACK_TILE_ELEMENTS 512

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
    // Per block and 32-k step: hi rows 0–15, hi rows 16–31, lo rows 0–15, lo rows 16–31 (the
    // rounded packing writes only the two hi tiles per step, so it needs half of this).
    return blocks * (k / MG_AMX_K_STEP) * 4 * PACK_TILE_ELEMENTS;
}

// Portable packing (any CPU; the products only run where AMX is): per block and step 4 tiles (hi
// rows 0–15, 16–31, lo rows 0–15, 16–31) with `with_lo`, else the two hi tiles only, back to back
// (the one-pass product then streams no unused memory).
static void pack_x_scalar(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                          uint16_t *packed, int with_lo) {
    size_t steps = k / MG_AMX_K_STEP;
    size_t per_step = (with_lo ? 4 : 2) * PACK_TILE_ELEMENTS;
    for (size_t block = block_begin; block < block_end; block++) {
        uint16_t *out = packed + block * steps * per_step;
        for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
            size_t row = block * MG_AMX_BLOCK + r;
            // Tile (r / 16) of each step, row r % 16; the lo tile sits two tiles later.
            uint16_t *hi_row = out + (r / 16) * PACK_TILE_ELEMENTS + (r % 16) * MG_AMX_K_STEP;
            const float *source = x + row * ldx;
            for (size_t s = 0; s < steps; s++) {
                uint16_t *hi = hi_row + s * per_step, *lo = hi + 2 * PACK_TILE_ELEMENTS;
                for (int i = 0; i < MG_AMX_K_STEP; i++) {
                    float value = row < rows ? source[s * MG_AMX_K_STEP + i] : 0;
                    uint16_t h = bf16_round(value);
                    hi[i] = h;
                    if (!with_lo) continue;
                    // x − hi is exact in F32; an infinite or NaN hi leaves nothing to correct.
                    int finite = (h & 0x7f80u) != 0x7f80u;
                    lo[i] = finite ? bf16_round(value - bf16_widen(h)) : 0;
                }
            }
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && defined(__linux__)
#include "amx_tiles.h"
#include <cpuid.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static int amx_state = 0, amx_int8 = 0;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void) {
    unsigned eax, ebx, ecx, edx;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int has_tile = (edx >> 24) & 1, has_bf16 = (edx >> 22) & 1, has_int8 = (edx >> 25) & 1, has_avx512bw = (ebx >> 30) & 1;
    if (!has_tile || !has_bf16 || !has_avx512bw) return;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    if (!((eax >> 5) & 1)) return; // AVX512_BF16, used to pack activations
    __cpuid(1, eax, ebx, ecx, edx);
    if (!((ecx >> 27) & 1)) return; // OSXSAVE, needed for xgetbv
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    // The OS saves the AVX-512 state (opmask, ZMM 0–15 upper halves, ZMM 16–31) and the tile
    // state (XTILECFG 17, XTILEDATA 18).
    if (((lo >> 5) & 7u) != 7u || ((lo >> 17) & 3u) != 3u) return;
    // Linux hands out the 8 KB tile state only on request; without it the first tile
    // instruction faults.
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return;
    amx_state = 1;
    amx_int8 = has_int8;
}

int mg_amx_bf16_available(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_state;
}

int mg_amx_int8_available(void) {
    pthread_once(&amx_once, amx_probe);
    return amx_int8;
}

AMX_TARGET
static void pack_x_vector(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                          uint16_t *packed, int with_lo) {
    size_t steps = k / MG_AMX_K_STEP;
    size_t per_step = (with_lo ? 4 : 2) * TILE_ELEMENTS;
    for (size_t block = block_begin; block < block_end; block++) {
        uint16_t *out = packed + block * steps * per_step;
        for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
            size_t row = block * MG_AMX_BLOCK + r;
            uint16_t *hi_row = out + (r / 16) * TILE_ELEMENTS + (r % 16) * MG_AMX_K_STEP;
            if (row < rows) {
                pack_row(x + row * ldx, steps, hi_row, per_step, with_lo);
                continue;
            }
            for (size_t s = 0; s < steps; s++) {
                memset(hi_row + s * per_step, 0, MG_AMX_K_STEP * 2);
                if (with_lo) memset(hi_row + s * per_step + 2 * TILE_ELEMENTS, 0, MG_AMX_K_STEP * 2);
            }
        }
    }
}

void mg_amx_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                   uint16_t *packed) {
    if (mg_amx_bf16_available()) {
        pack_x_vector(x, ldx, rows, k, block_begin, block_end, packed, 1);
    } else {
        pack_x_scalar(x, ldx, rows, k, block_begin, block_end, packed, 1);
    }
}

void mg_amx_pack_x_rounded(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                           uint16_t *packed) {
    if (mg_amx_bf16_available()) {
        pack_x_vector(x, ldx, rows, k, block_begin, block_end, packed, 0);
    } else {
        pack_x_scalar(x, ldx, rows, k, block_begin, block_end, packed, 0);
    }
}

// The packed weight chunk is reused across calls on the same thread (one buffer per thread, freed
// when the thread exits): a fresh 1 MB allocation per call would be a fresh mmap, page-faulted
// in every time.
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_make_key(void) { (void)pthread_key_create(&scratch_key, free); }

uint16_t *mg_amx_weight_scratch(void) {
    pthread_once(&scratch_once, scratch_make_key);
    uint16_t *buffer = pthread_getspecific(scratch_key);
    if (buffer) return buffer;
    buffer = aligned_alloc(64, CHUNK_BLOCKS * SLICE_STEPS * 2 * TILE_ELEMENTS * sizeof(uint16_t));
    if (buffer && pthread_setspecific(scratch_key, buffer) != 0) {
        free(buffer);
        return NULL;
    }
    return buffer;
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
    if (!mg_amx_bf16_available() || k % MG_AMX_K_STEP != 0 || (passes != 1 && passes != 2)) return -1;
    if (column_block_end <= column_block_begin || rows == 0) return 0;
    size_t steps_total = k / MG_AMX_K_STEP;
    size_t row_blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t x_step_elements = (size_t)passes * 2 * TILE_ELEMENTS;
    uint16_t *packed_w = mg_amx_weight_scratch();
    if (!packed_w) return -1;
    // Blocks past `rows` or `n` go through this buffer so tiles never touch memory outside y.
    float edge[MG_AMX_BLOCK * MG_AMX_BLOCK] __attribute__((aligned(64)));
    configure_tiles();

    // Equal chunks of at most CHUNK_BLOCKS: each chunk streams all of x once, so a short last chunk
    // would cost as much x traffic as a full one.
    size_t total_blocks = column_block_end - column_block_begin;
    size_t chunk_count = (total_blocks + CHUNK_BLOCKS - 1) / CHUNK_BLOCKS;
    size_t chunk = column_block_begin;
    for (size_t index = 0; index < chunk_count; index++) {
        size_t blocks = total_blocks / chunk_count + (index < total_blocks % chunk_count ? 1 : 0);
        for (size_t step0 = 0; step0 < steps_total; step0 += SLICE_STEPS) {
            size_t steps = steps_total - step0 < SLICE_STEPS ? steps_total - step0 : SLICE_STEPS;
            for (size_t b = 0; b < blocks; b++) {
                pack_weight_block(w, n, k, (chunk + b) * MG_AMX_BLOCK, step0 * MG_AMX_K_STEP, steps,
                                  packed_w + b * steps * 2 * TILE_ELEMENTS);
            }
            int load = accumulate || step0 > 0;
            for (size_t rb = 0; rb < row_blocks; rb++) {
                const uint16_t *x_tiles = packed_x + (rb * steps_total + step0) * x_step_elements;
                size_t row = rb * MG_AMX_BLOCK;
                size_t valid_rows = rows - row < MG_AMX_BLOCK ? rows - row : MG_AMX_BLOCK;
                for (size_t b = 0; b < blocks; b++) {
                    size_t column = (chunk + b) * MG_AMX_BLOCK;
                    size_t valid_columns = n - column < MG_AMX_BLOCK ? n - column : MG_AMX_BLOCK;
                    const uint16_t *w_tiles = packed_w + b * steps * 2 * TILE_ELEMENTS;
                    float *target = y + row * ldy + column;
                    if (valid_rows == MG_AMX_BLOCK && valid_columns == MG_AMX_BLOCK) {
                        block_product(x_tiles, w_tiles, steps, target, ldy, load, passes);
                        continue;
                    }
                    if (load) {
                        for (size_t r = 0; r < valid_rows; r++)
                            memcpy(edge + r * MG_AMX_BLOCK, target + r * ldy, valid_columns * sizeof(float));
                    }
                    block_product(x_tiles, w_tiles, steps, edge, MG_AMX_BLOCK, load, passes);
                    for (size_t r = 0; r < valid_rows; r++)
                        memcpy(target + r * ldy, edge + r * MG_AMX_BLOCK, valid_columns * sizeof(float));
                }
            }
        }
        chunk += blocks;
    }
    _tile_release();
    return 0;
}

#else

int mg_amx_bf16_available(void) { return 0; }

int mg_amx_int8_available(void) { return 0; }

void mg_amx_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                   uint16_t *packed) {
    pack_x_scalar(x, ldx, rows, k, block_begin, block_end, packed, 1);
}

void mg_amx_pack_x_rounded(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                           uint16_t *packed) {
    pack_x_scalar(x, ldx, rows, k, block_begin, block_end, packed, 0);
}

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
