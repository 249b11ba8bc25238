// The front half of a gated MLP on AMX tiles: a = act(x · gateᵀ) ⊙ (x · upᵀ), written straight
// into the packed activation layout of the following product (see mg_amx_gated_bf16).
//
// A chunk packs up to 4 column blocks of the gate and the same 4 of up (8 blocks, ≤ 1 MB for
// k ≤ 2048) over the whole k, so each 32 × 32 product is complete when it leaves the tiles: the
// gate block and the up block of the same columns are stored into two 4 KB buffers (in L1), the
// activation combines them, and the result is rounded (or split hi/lo) into one 32-k step
// of the packed output. The [rows, n] F32 gate, up and product matrices are never materialised.
#include "mg_gemm_amx.h"
#include "mg_pointwise.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && defined(__linux__)
#include "amx_tiles.h"

AMX_TARGET
int mg_amx_gated_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                      size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                      uint16_t *packed_out, int out_passes) {
    if (!mg_amx_bf16_available() || k % MG_AMX_K_STEP != 0 || n % MG_AMX_BLOCK != 0) return -1;
    if ((passes != 1 && passes != 2) || (out_passes != 1 && out_passes != 2)) return -1;
    size_t steps = k / MG_AMX_K_STEP;
    // Pairs of blocks whose whole k fits the 1 MB scratch: 4 at k ≤ 2048, 1 at k ≤ 8192.
    size_t pairs_per_chunk = CHUNK_BLOCKS * SLICE_STEPS / (2 * steps);
    if (pairs_per_chunk > CHUNK_BLOCKS / 2) pairs_per_chunk = CHUNK_BLOCKS / 2;
    if (pairs_per_chunk == 0) return -1;
    if (column_block_end <= column_block_begin || rows == 0) return 0;
    uint16_t *packed_w = mg_amx_weight_scratch();
    if (!packed_w) return -1;
    size_t row_blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t x_step_elements = (size_t)passes * 2 * TILE_ELEMENTS;
    size_t out_steps = n / MG_AMX_K_STEP, out_step_elements = (size_t)out_passes * 2 * TILE_ELEMENTS;
    size_t block_elements = steps * 2 * TILE_ELEMENTS;
    float gate_sums[MG_AMX_BLOCK * MG_AMX_BLOCK] __attribute__((aligned(64)));
    float up_sums[MG_AMX_BLOCK * MG_AMX_BLOCK] __attribute__((aligned(64)));
    configure_tiles();

    size_t total = column_block_end - column_block_begin;
    size_t chunk_count = (total + pairs_per_chunk - 1) / pairs_per_chunk;
    size_t chunk = column_block_begin;
    for (size_t index = 0; index < chunk_count; index++) {
        size_t pairs = total / chunk_count + (index < total % chunk_count ? 1 : 0);
        for (size_t p = 0; p < pairs; p++) {
            size_t column = (chunk + p) * MG_AMX_BLOCK;
            pack_weight_block(gate, n, k, column, 0, steps, packed_w + (2 * p) * block_elements);
            pack_weight_block(up, n, k, column, 0, steps, packed_w + (2 * p + 1) * block_elements);
        }
        for (size_t rb = 0; rb < row_blocks; rb++) {
            const uint16_t *x_tiles = packed_x + rb * steps * x_step_elements;
            size_t valid_rows = rows - rb * MG_AMX_BLOCK < MG_AMX_BLOCK ? rows - rb * MG_AMX_BLOCK : MG_AMX_BLOCK;
            for (size_t p = 0; p < pairs; p++) {
                block_product(x_tiles, packed_w + (2 * p) * block_elements, steps, gate_sums, MG_AMX_BLOCK, 0, passes);
                block_product(x_tiles, packed_w + (2 * p + 1) * block_elements, steps, up_sums, MG_AMX_BLOCK, 0,
                              passes);
                mg_gated_activation((mg_activation_kind)activation, gate_sums, up_sums, gate_sums,
                                    MG_AMX_BLOCK * MG_AMX_BLOCK);
                // Rows past `rows` (zero activations) are written as zeros, as mg_amx_pack_x does.
                if (valid_rows < MG_AMX_BLOCK)
                    memset(gate_sums + valid_rows * MG_AMX_BLOCK, 0,
                           (MG_AMX_BLOCK - valid_rows) * MG_AMX_BLOCK * sizeof(float));
                uint16_t *out = packed_out + (rb * out_steps + chunk + p) * out_step_elements;
                for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
                    pack_row(gate_sums + r * MG_AMX_BLOCK, 1, out + (r / 16) * TILE_ELEMENTS + (r % 16) * MG_AMX_K_STEP,
                             out_step_elements, out_passes == 2);
                }
            }
        }
        chunk += pairs;
    }
    _tile_release();
    return 0;
}

#else

int mg_amx_gated_bf16(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                      size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                      uint16_t *packed_out, int out_passes) {
    (void)packed_x, (void)rows, (void)k, (void)gate, (void)up, (void)n, (void)column_block_begin;
    (void)column_block_end, (void)passes, (void)activation, (void)packed_out, (void)out_passes;
    return -1;
}

#endif
