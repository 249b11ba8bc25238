// Private to CMGKernels: the AMX tile pieces shared by the BF16-weight products
// (gemm_bf16_amx.c, gemm_bf16_amx_gated.c) and the split-F32 product (gemm_f32_amx.c). x86-64 Linux only; include after mg_gemm_amx.h.
#ifndef MG_AMX_TILES_H
#define MG_AMX_TILES_H
#include "mg_gemm_amx.h"
#include <immintrin.h>
#include <string.h>
#include "vnni_pack.h"

#define CHUNK_BLOCKS 8
#define SLICE_STEPS 64    // 2048 k
// AVX-512 BF16 comes with every AMX CPU; mg_amx_bf16_available() checks it too.
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16")))

/// The per-thread packed-weight buffer (CHUNK_BLOCKS × SLICE_STEPS × 2 tiles, 1 MB), or NULL when
/// it cannot be allocated. Reused by every product on the thread.
uint16_t *mg_amx_weight_scratch(void);

struct tile_config {
    uint8_t palette;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t column_bytes[16];
    uint8_t rows[16];
};


// The 32 × 32 output block at c (row stride `ldc` floats) lives in t0–t3: loaded from c when
// `load` is set, else zeroed, and stored back once the block's k steps are done.
AMX_TARGET
static inline void accumulators_begin(const float *c, size_t ldc, int load) {
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
}

AMX_TARGET
static inline void accumulators_store(float *c, size_t ldc) {
    size_t stride = ldc * sizeof(float);
    _tile_stored(0, c, stride);
    _tile_stored(1, c + 16, stride);
    _tile_stored(2, c + 16 * ldc, stride);
    _tile_stored(3, c + 16 * ldc + 16, stride);
}

// One 32 × 32 output block over `steps` 32-k steps, kept in t0–t3 throughout; c has a row stride
// of `ldc` floats and is read first when `load` is set. x_tiles advance by `passes` · 2 tiles per
// step (hi, then lo when passes is 2), w_tiles by 2.
AMX_TARGET
static inline void block_product(const uint16_t *x_tiles, const uint16_t *w_tiles, size_t steps, float *c,
                                 size_t ldc, int load, int passes) {
    accumulators_begin(c, ldc, load);
    if (passes == 1) {
        for (size_t s = 0; s < steps; s++) {
            _tile_loadd(6, w_tiles, 64);
            _tile_loadd(7, w_tiles + TILE_ELEMENTS, 64);
            _tile_loadd(4, x_tiles, 64);
            _tile_loadd(5, x_tiles + TILE_ELEMENTS, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
            x_tiles += 2 * TILE_ELEMENTS;
            w_tiles += 2 * TILE_ELEMENTS;
        }
    } else {
        for (size_t s = 0; s < steps; s++) {
            _tile_loadd(6, w_tiles, 64);
            _tile_loadd(7, w_tiles + TILE_ELEMENTS, 64);
            _tile_loadd(4, x_tiles, 64);
            _tile_loadd(5, x_tiles + TILE_ELEMENTS, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
            _tile_loadd(4, x_tiles + 2 * TILE_ELEMENTS, 64);
            _tile_loadd(5, x_tiles + 3 * TILE_ELEMENTS, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
            x_tiles += 4 * TILE_ELEMENTS;
            w_tiles += 2 * TILE_ELEMENTS;
        }
    }
    accumulators_store(c, ldc);
}

/// Sets every tile to 16 rows × 64 bytes (the only shape these kernels use).
AMX_TARGET
static inline void configure_tiles(void) {
    struct tile_config config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    for (int t = 0; t < 8; t++) {
        config.rows[t] = 16;
        config.column_bytes[t] = 64;
    }
    _tile_loadconfig(&config);
}

#endif
