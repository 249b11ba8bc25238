// BF16-weight GEMM and gated-MLP front half on AVX-512-BF16 (vdpbf16ps), for CPUs without AMX
// (Zen 4/5, Cooper Lake, capped Sapphire Rapids), plus the tier dispatch of mg_gemm_bf16.h.
//
// Same packed operands as the AMX kernels, so the callers pack once for either tier: weights in the
// VNNI pair layout (per 32-column block and 32-k step, two 16 × 16 tables of k pairs; one table row
// is exactly one zmm of 16 columns × 1 pair), activations as rows of 32 bf16 per step (hi, then lo).
//
// Micro-kernel: 8 rows × 32 columns in 16 zmm accumulators. Per k pair it loads the two weight
// vectors and broadcasts each row's pair (a 32-bit {1to16} memory operand of both its products), so
// 16 vdpbf16ps need 2 vector loads besides their own operands; with two passes the lo pair of each
// row goes into the same accumulator (no extra registers). 16 independent chains cover the 6-cycle
// latency at 2 products per cycle.
//
// Blocking (BLIS-style, see avx512bf16_gemm): k in slices of 256 so one weight micro-panel (32
// columns, 16 KB) stays in L1 while the row groups of an activation part (its slice ≤ 512 KB, L2)
// pass it; row parts outermost so their stripe of y stays cached across slices; each micro-panel
// is packed into the per-thread 1 MB scratch just before its first use while the next one's source
// rows are prefetched. Outputs are added to y across slices (masked loads/stores at the edges, so
// y is never written outside its rows × n).
#include "mg_gemm_bf16.h"
#include "mg_cpu_tier.h"
#include "mg_gemm_amx.h"
#include "mg_pointwise.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__)) && defined(__linux__)
#include "vnni_pack.h"

/// The per-thread 1 MB packed-weight buffer of gemm_bf16_amx.c (plain memory, no tile state).
uint16_t *mg_amx_weight_scratch(void);

#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define GROUP_ROWS 8
#define BLOCK_STEP_ELEMENTS (2 * TILE_ELEMENTS)       // one 32-column block, one 32-k step
#define SCRATCH_BLOCK_STEPS 512                       // 1 MB / 2 KB
#ifndef BF16_KC_STEPS
#define BF16_KC_STEPS 8 // 256 k per slice: a 32-column weight micro-panel is 16 KB (half of L1)
#endif
#ifndef BF16_NC_BLOCKS
// Weight micro-panels per panel (256 columns): a 600-row part's stripe of y (600 KB) then stays in
// L2 between slices; 32 (1,024 columns, a 2.4 MB stripe) was 2.5–5 % slower on the 256,000-wide
// vocabulary projection. Calls of MGTensor's column split at 2,048 outputs are 8 blocks anyway.
#define BF16_NC_BLOCKS 8
#endif
#ifndef BF16_MC_BYTES
#define BF16_MC_BYTES (512 * 1024) // packed activations of a slice that stay in L2 (1 MB on Zen 4)
#endif
#ifndef BF16_GATED_SUM_BYTES
#define BF16_GATED_SUM_BYTES (256 * 1024) // gate and up sums of a row part of the gated kernel (L2)
#endif

static int avx512bf16_ready(void) { return mg_kernel_tier_detected() >= MG_TIER_AVX512BF16; }

// Each activation pair is the embedded-broadcast memory operand ({1to16}) of its two products
// rather than a vbroadcastss into a register that both read: 1.5–6 % faster on Zen 4 over the
// prefill shapes (kernel harness, CPU time, alternating builds), the same products bit for bit.
// Inline assembly because compilers hoist a broadcast used twice into a register.
#define DOT_PAIR(ACC0, ACC1, SOURCE)                                                                                   \
    do {                                                                                                               \
        const uint32_t *pair_source = (const uint32_t *)(const void *)(SOURCE);                                      \
        __asm__("vdpbf16ps %[x]%{1to16%}, %[w], %[acc]" : [acc] "+v"(ACC0) : [w] "v"(w0), [x] "m"(*pair_source));   \
        __asm__("vdpbf16ps %[x]%{1to16%}, %[w], %[acc]" : [acc] "+v"(ACC1) : [w] "v"(w1), [x] "m"(*pair_source));   \
    } while (0)

// Rows [0, valid_rows) of the 8 × 32 block at c (row stride ldc; columns masked by m0, m1) get the
// product of 8 activation rows (`x`: hi row 0 of the group at step 0, `x_step` elements per step)
// and one packed weight block over `steps` steps; added to c when `load`, stored otherwise.
BF16_TARGET __attribute__((always_inline)) static inline void group_product(const uint16_t *x, size_t x_step,
                                                                            const uint16_t *w, size_t steps,
                                                                            int passes, float *c, size_t ldc,
                                                                            size_t valid_rows, __mmask16 m0,
                                                                            __mmask16 m1, int load) {
    if (load) {
        for (size_t r = 0; r < valid_rows; r++) {
            _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + r * ldc + 16), _MM_HINT_T0);
        }
    }
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
    __m512 a40 = a00, a41 = a00, a50 = a00, a51 = a00, a60 = a00, a61 = a00, a70 = a00, a71 = a00;
    for (size_t s = 0; s < steps; s++) {
        const uint16_t *xs = x + s * x_step, *ws = w + s * BLOCK_STEP_ELEMENTS;
        // The activation lines of the next step (8 rows × 64 B, hi then lo, from L2) are fetched a
        // step ahead: the hardware prefetcher does not follow the step stride in time (exact mode
        // measured 2–5 % faster). After the last step: the next group's first step.
        const char *next = (const char *)(s + 1 < steps ? xs + x_step : x + GROUP_ROWS * 32);
        for (int line = 0; line < GROUP_ROWS; line++) _mm_prefetch(next + 64 * line, _MM_HINT_T0);
        if (passes == 2)
            for (int line = 0; line < GROUP_ROWS; line++) _mm_prefetch(next + 4 * TILE_ELEMENTS + 64 * line, _MM_HINT_T0);
        for (int p = 0; p < 16; p++) {
            __m512bh w0 = (__m512bh)_mm512_load_si512((const void *)(ws + p * 32));
            __m512bh w1 = (__m512bh)_mm512_load_si512((const void *)(ws + TILE_ELEMENTS + p * 32));
            const uint16_t *xp = xs + 2 * p;
            DOT_PAIR(a00, a01, xp + 0 * 32);
            DOT_PAIR(a10, a11, xp + 1 * 32);
            DOT_PAIR(a20, a21, xp + 2 * 32);
            DOT_PAIR(a30, a31, xp + 3 * 32);
            DOT_PAIR(a40, a41, xp + 4 * 32);
            DOT_PAIR(a50, a51, xp + 5 * 32);
            DOT_PAIR(a60, a61, xp + 6 * 32);
            DOT_PAIR(a70, a71, xp + 7 * 32);
            if (passes == 2) {
                const uint16_t *lo = xp + 2 * TILE_ELEMENTS;
                DOT_PAIR(a00, a01, lo + 0 * 32);
                DOT_PAIR(a10, a11, lo + 1 * 32);
                DOT_PAIR(a20, a21, lo + 2 * 32);
                DOT_PAIR(a30, a31, lo + 3 * 32);
                DOT_PAIR(a40, a41, lo + 4 * 32);
                DOT_PAIR(a50, a51, lo + 5 * 32);
                DOT_PAIR(a60, a61, lo + 6 * 32);
                DOT_PAIR(a70, a71, lo + 7 * 32);
            }
        }
    }
    __m512 sums[GROUP_ROWS][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31},
                                  {a40, a41}, {a50, a51}, {a60, a61}, {a70, a71}};
    // Every row of c is read before any is written: with ldc a multiple of 1024 floats (a 2048-wide
    // y) the rows share their low 12 address bits, and a load issued after a store to such an
    // address waits for that store (4K aliasing; 1–2 % of the 2048 × 2048 linear).
    if (load) {
        for (size_t r = 0; r < valid_rows; r++) {
            sums[r][0] = _mm512_add_ps(sums[r][0], _mm512_maskz_loadu_ps(m0, c + r * ldc));
            sums[r][1] = _mm512_add_ps(sums[r][1], _mm512_maskz_loadu_ps(m1, c + r * ldc + 16));
        }
    }
    for (size_t r = 0; r < valid_rows; r++) {
        _mm512_mask_storeu_ps(c + r * ldc, m0, sums[r][0]);
        _mm512_mask_storeu_ps(c + r * ldc + 16, m1, sums[r][1]);
    }
}

// One 32-row block × one 32-column block over `steps`, as four 8-row groups; passes is a constant
// at each call site so the inner loop is specialised.
BF16_TARGET static void block_product_1(const uint16_t *x, const uint16_t *w, size_t steps, float *c, size_t ldc,
                                        size_t valid_rows, __mmask16 m0, __mmask16 m1, int load) {
    for (size_t g = 0; g * GROUP_ROWS < valid_rows; g++) {
        size_t left = valid_rows - g * GROUP_ROWS;
        group_product(x + g * GROUP_ROWS * 32, BLOCK_STEP_ELEMENTS, w, steps, 1, c + g * GROUP_ROWS * ldc, ldc,
                      left < GROUP_ROWS ? left : GROUP_ROWS, m0, m1, load);
    }
}

BF16_TARGET static void block_product_2(const uint16_t *x, const uint16_t *w, size_t steps, float *c, size_t ldc,
                                        size_t valid_rows, __mmask16 m0, __mmask16 m1, int load) {
    for (size_t g = 0; g * GROUP_ROWS < valid_rows; g++) {
        size_t left = valid_rows - g * GROUP_ROWS;
        group_product(x + g * GROUP_ROWS * 32, 2 * BLOCK_STEP_ELEMENTS, w, steps, 2, c + g * GROUP_ROWS * ldc, ldc,
                      left < GROUP_ROWS ? left : GROUP_ROWS, m0, m1, load);
    }
}

static inline __mmask16 column_mask(size_t valid) { return valid >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << valid) - 1u); }

// Splits `total` items into the fewest equal parts of at most `limit` (the first `total % parts` one
// larger): a short last part would cost as much operand traffic as a full one.
static inline size_t part_count(size_t total, size_t limit) { return (total + limit - 1) / limit; }
static inline size_t part_size(size_t total, size_t parts, size_t index) {
    return total / parts + (index < total % parts ? 1 : 0);
}

// Source rows of the next weight micro-panel to pack: `count` rows of `lines_per_row` cache lines
// from `base`, `stride` bytes apart.
typedef struct {
    const char *base;
    size_t count, lines_per_row, stride;
} prefetch_rows;

// The row groups of row blocks [first, last) of the packed activations (k steps from `step0`)
// times one packed weight micro-panel (`w`, `steps` steps), into the 32 columns of y at `column`.
BF16_TARGET static void panel_product(const uint16_t *packed_x, size_t x_step_elements, size_t steps_total,
                                      size_t step0, size_t first, size_t last, size_t rows, const uint16_t *w,
                                      size_t steps, float *y, size_t ldy, size_t column, __mmask16 m0,
                                      __mmask16 m1, int load, int passes, const prefetch_rows *next) {
    size_t line = 0, lines = next ? next->count * next->lines_per_row : 0;
    for (size_t rb = first; rb < last; rb++) {
        // Spread the prefetches of the next micro-panel's source over the row blocks.
        size_t until = lines * (rb - first + 1) / (last - first);
        for (; line < until; line++) {
            size_t r = line / next->lines_per_row, l = line % next->lines_per_row;
            _mm_prefetch((const char *)(next->base + r * next->stride) + 64 * l, _MM_HINT_T1);
        }
        const uint16_t *x_tiles = packed_x + (rb * steps_total + step0) * x_step_elements;
        size_t row = rb * MG_AMX_BLOCK;
        size_t valid_rows = rows - row < MG_AMX_BLOCK ? rows - row : MG_AMX_BLOCK;
        float *target = y + row * ldy + column;
        if (passes == 1) {
            block_product_1(x_tiles, w, steps, target, ldy, valid_rows, m0, m1, load);
        } else {
            block_product_2(x_tiles, w, steps, target, ldy, valid_rows, m0, m1, load);
        }
    }
}

// BLIS-style blocking. k goes in slices of BF16_KC_STEPS · 32 (256): one 32-column weight
// micro-panel of a slice is 16 KB and stays in L1 while every row group of an activation block
// passes it; an activation block is at most BF16_MC_BYTES of packed rows of the slice (L2), and a
// panel of BF16_NC_BLOCKS micro-panels (the weights of a slice, packed once per call) serves every
// activation block. y is added to once per slice; each 8 × 32 tile's rows are prefetched as its
// product starts, so the read-modify-write does not wait for L3.
BF16_TARGET
static int avx512bf16_gemm(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                           size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                           int passes) {
    if (!avx512bf16_ready() || k % MG_AMX_K_STEP != 0 || (passes != 1 && passes != 2)) return -1;
    if (column_block_end <= column_block_begin || rows == 0 || k == 0) return 0;
    uint16_t *packed_w = mg_amx_weight_scratch();
    if (!packed_w) return -1;
    size_t steps_total = k / MG_AMX_K_STEP;
    size_t row_blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t x_step_elements = (size_t)passes * BLOCK_STEP_ELEMENTS;
    size_t slice_bytes_per_block = BF16_KC_STEPS * x_step_elements * sizeof(uint16_t);
    size_t mc_limit = BF16_MC_BYTES / slice_bytes_per_block;
    if (mc_limit == 0) mc_limit = 1;
    size_t mc_parts = part_count(row_blocks, mc_limit);
    size_t total_blocks = column_block_end - column_block_begin;
    size_t panels = part_count(total_blocks, BF16_NC_BLOCKS);
    size_t panel_begin = column_block_begin;
    for (size_t panel = 0; panel < panels; panel++) {
        size_t blocks = part_size(total_blocks, panels, panel);
        // Row parts go outermost, so a part's stripe of y is added to by every slice while it is
        // still in L2/L3 (3,000 rows of y are 24 MB). The panel's packed weights are kept for the
        // later parts when the whole k fits the scratch, and packed again per part otherwise.
        int keep = mc_parts > 1 && blocks * steps_total <= SCRATCH_BLOCK_STEPS;
        size_t first = 0;
        for (size_t part = 0; part < mc_parts; part++) {
            size_t last = first + part_size(row_blocks, mc_parts, part);
            for (size_t step0 = 0; step0 < steps_total; step0 += BF16_KC_STEPS) {
                size_t steps = steps_total - step0 < BF16_KC_STEPS ? steps_total - step0 : BF16_KC_STEPS;
                int load = accumulate || step0 > 0;
                for (size_t b = 0; b < blocks; b++) {
                    size_t column = (panel_begin + b) * MG_AMX_BLOCK;
                    uint16_t *micro_panel = packed_w + (keep ? b * steps_total + step0 : b * steps) * BLOCK_STEP_ELEMENTS;
                    // Each micro-panel is packed just before its first use; its source was
                    // prefetched while the previous one was in use.
                    prefetch_rows next = {0};
                    if (part == 0 || !keep) {
                        pack_weight_block(w, n, k, column, step0 * MG_AMX_K_STEP, steps, micro_panel);
                        size_t next_column = column + MG_AMX_BLOCK;
                        if (b + 1 < blocks && next_column < n) {
                            size_t count = n - next_column < MG_AMX_BLOCK ? n - next_column : MG_AMX_BLOCK;
                            next = (prefetch_rows){(const char *)(w + next_column * k + step0 * MG_AMX_K_STEP), count,
                                                   steps, k * sizeof(uint16_t)};
                        }
                    }
                    size_t valid_columns = n - column < MG_AMX_BLOCK ? n - column : MG_AMX_BLOCK;
                    __mmask16 m0 = column_mask(valid_columns);
                    __mmask16 m1 = column_mask(valid_columns > 16 ? valid_columns - 16 : 0);
                    panel_product(packed_x, x_step_elements, steps_total, step0, first, last, rows, micro_panel, steps,
                                  y, ldy, column, m0, m1, load, passes, next.base ? &next : NULL);
                }
            }
            first = last;
        }
        panel_begin += blocks;
    }
    return 0;
}

// Gated front half with the blocking of avx512bf16_gemm: up to four gate/up block pairs (whole k)
// are packed into the scratch; the rows go in parts whose gate and up sums (F32, BF16_GATED_SUM_BYTES)
// stay in L2 while k runs in BF16_KC_STEPS slices (one 16 KB micro-panel in L1 per slice, the
// part's activations of the slice in L2); each finished part is activated and packed out.
BF16_TARGET
static int avx512bf16_gated(const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                            size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                            uint16_t *packed_out, int out_passes) {
    if (!avx512bf16_ready() || k % MG_AMX_K_STEP != 0 || n % MG_AMX_BLOCK != 0) return -1;
    if ((passes != 1 && passes != 2) || (out_passes != 1 && out_passes != 2)) return -1;
    size_t steps = k / MG_AMX_K_STEP;
    // Pairs of blocks whose whole k fits the 1 MB scratch: 4 at k ≤ 2048, 1 at k ≤ 8192.
    size_t pairs_per_chunk = steps == 0 ? 4 : SCRATCH_BLOCK_STEPS / (2 * steps);
    if (pairs_per_chunk > 4) pairs_per_chunk = 4;
    if (pairs_per_chunk == 0) return -1;
    if (column_block_end <= column_block_begin || rows == 0) return 0;
    uint16_t *packed_w = mg_amx_weight_scratch();
    if (!packed_w) return -1;
    size_t row_blocks = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    size_t x_step_elements = (size_t)passes * BLOCK_STEP_ELEMENTS;
    size_t out_steps = n / MG_AMX_K_STEP, out_step_elements = (size_t)out_passes * BLOCK_STEP_ELEMENTS;
    size_t block_elements = steps * BLOCK_STEP_ELEMENTS;
    // Sums of one row block for one pair: gate then up, 32 × 32 each.
    size_t pair_sum_floats = 2 * MG_AMX_BLOCK * MG_AMX_BLOCK;
    size_t part_limit = BF16_GATED_SUM_BYTES / (pairs_per_chunk * pair_sum_floats * sizeof(float));
    if (part_limit == 0) part_limit = 1;
    size_t parts = part_count(row_blocks, part_limit);
    size_t part_blocks_max = part_size(row_blocks, parts, 0);
    float *sums = aligned_alloc(64, part_blocks_max * pairs_per_chunk * pair_sum_floats * sizeof(float));
    if (!sums) return -1;

    size_t total = column_block_end - column_block_begin;
    size_t chunk_count = part_count(total, pairs_per_chunk);
    size_t chunk = column_block_begin;
    for (size_t index = 0; index < chunk_count; index++) {
        size_t pairs = part_size(total, chunk_count, index);
        for (size_t p = 0; p < pairs; p++) {
            size_t column = (chunk + p) * MG_AMX_BLOCK;
            pack_weight_block(gate, n, k, column, 0, steps, packed_w + (2 * p) * block_elements);
            pack_weight_block(up, n, k, column, 0, steps, packed_w + (2 * p + 1) * block_elements);
        }
        size_t first = 0;
        for (size_t part = 0; part < parts; part++) {
            size_t count = part_size(row_blocks, parts, part);
            for (size_t step0 = 0; step0 < steps; step0 += BF16_KC_STEPS) {
                size_t slice = steps - step0 < BF16_KC_STEPS ? steps - step0 : BF16_KC_STEPS;
                int load = step0 > 0;
                // 2 · pairs micro-panels (gate, up of each pair), each against every row block of the part.
                for (size_t panel = 0; panel < 2 * pairs; panel++) {
                    const uint16_t *w_tiles = packed_w + panel * block_elements + step0 * BLOCK_STEP_ELEMENTS;
                    for (size_t i = 0; i < count; i++) {
                        const uint16_t *x_tiles = packed_x + ((first + i) * steps + step0) * x_step_elements;
                        float *target = sums + (i * 2 * pairs + panel) * MG_AMX_BLOCK * MG_AMX_BLOCK;
                        if (passes == 1) {
                            block_product_1(x_tiles, w_tiles, slice, target, MG_AMX_BLOCK, MG_AMX_BLOCK, 0xffff,
                                            0xffff, load);
                        } else {
                            block_product_2(x_tiles, w_tiles, slice, target, MG_AMX_BLOCK, MG_AMX_BLOCK, 0xffff,
                                            0xffff, load);
                        }
                    }
                }
            }
            for (size_t i = 0; i < count; i++) {
                size_t rb = first + i;
                size_t valid_rows = rows - rb * MG_AMX_BLOCK < MG_AMX_BLOCK ? rows - rb * MG_AMX_BLOCK : MG_AMX_BLOCK;
                for (size_t p = 0; p < pairs; p++) {
                    float *gate_sums = sums + (i * 2 * pairs + 2 * p) * MG_AMX_BLOCK * MG_AMX_BLOCK;
                    float *up_sums = gate_sums + MG_AMX_BLOCK * MG_AMX_BLOCK;
                    mg_gated_activation((mg_activation_kind)activation, gate_sums, up_sums, gate_sums,
                                        MG_AMX_BLOCK * MG_AMX_BLOCK);
                    // Rows past `rows` (zero activations) are written as zeros, as the packing does.
                    if (valid_rows < MG_AMX_BLOCK)
                        memset(gate_sums + valid_rows * MG_AMX_BLOCK, 0,
                               (MG_AMX_BLOCK - valid_rows) * MG_AMX_BLOCK * sizeof(float));
                    uint16_t *out = packed_out + (rb * out_steps + chunk + p) * out_step_elements;
                    for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
                        pack_row(gate_sums + r * MG_AMX_BLOCK, 1, out + r * MG_AMX_K_STEP, out_step_elements,
                                 out_passes == 2);
                    }
                }
            }
            first += count;
        }
        chunk += pairs;
    }
    free(sums);
    return 0;
}

BF16_TARGET
static void avx512bf16_pack_x(const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin, size_t block_end,
                              uint16_t *packed, int with_lo) {
    size_t steps = k / MG_AMX_K_STEP;
    size_t per_step = (with_lo ? 2 : 1) * BLOCK_STEP_ELEMENTS;
    for (size_t block = block_begin; block < block_end; block++) {
        uint16_t *out = packed + block * steps * per_step;
        for (size_t r = 0; r < MG_AMX_BLOCK; r++) {
            size_t row = block * MG_AMX_BLOCK + r;
            uint16_t *hi_row = out + r * MG_AMX_K_STEP;
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

int mg_bf16_tier_supported(int tier) {
    if (tier > mg_kernel_tier_detected()) return 0;
    if (tier == MG_TIER_AMX) return mg_amx_bf16_available();
    return tier == MG_TIER_AVX512BF16;
}

void mg_bf16_pack_x(int tier, const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin,
                    size_t block_end, uint16_t *packed, int passes) {
    if (tier == MG_TIER_AVX512BF16 && avx512bf16_ready()) {
        avx512bf16_pack_x(x, ldx, rows, k, block_begin, block_end, packed, passes == 2);
    } else if (passes == 2) {
        mg_amx_pack_x(x, ldx, rows, k, block_begin, block_end, packed);
    } else {
        mg_amx_pack_x_rounded(x, ldx, rows, k, block_begin, block_end, packed);
    }
}

int mg_bf16_gemm_passes(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                        size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                        int passes) {
    if (!mg_bf16_tier_supported(tier)) return -1;
    if (tier == MG_TIER_AMX)
        return mg_amx_gemm_bf16_passes(packed_x, rows, k, w, n, column_block_begin, column_block_end, y, ldy,
                                       accumulate, passes);
    return avx512bf16_gemm(packed_x, rows, k, w, n, column_block_begin, column_block_end, y, ldy, accumulate, passes);
}

int mg_bf16_gated(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                  size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                  uint16_t *packed_out, int out_passes) {
    if (!mg_bf16_tier_supported(tier)) return -1;
    if (tier == MG_TIER_AMX)
        return mg_amx_gated_bf16(packed_x, rows, k, gate, up, n, column_block_begin, column_block_end, passes,
                                 activation, packed_out, out_passes);
    return avx512bf16_gated(packed_x, rows, k, gate, up, n, column_block_begin, column_block_end, passes, activation,
                            packed_out, out_passes);
}

#else

int mg_bf16_tier_supported(int tier) { return 0 * tier; }

void mg_bf16_pack_x(int tier, const float *x, size_t ldx, size_t rows, size_t k, size_t block_begin,
                    size_t block_end, uint16_t *packed, int passes) {
    (void)tier;
    if (passes == 2) {
        mg_amx_pack_x(x, ldx, rows, k, block_begin, block_end, packed);
    } else {
        mg_amx_pack_x_rounded(x, ldx, rows, k, block_begin, block_end, packed);
    }
}

int mg_bf16_gemm_passes(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *w, size_t n,
                        size_t column_block_begin, size_t column_block_end, float *y, size_t ldy, int accumulate,
                        int passes) {
    (void)tier, (void)packed_x, (void)rows, (void)k, (void)w, (void)n, (void)column_block_begin;
    (void)column_block_end, (void)y, (void)ldy, (void)accumulate, (void)passes;
    return -1;
}

int mg_bf16_gated(int tier, const uint16_t *packed_x, size_t rows, size_t k, const uint16_t *gate, const uint16_t *up,
                  size_t n, size_t column_block_begin, size_t column_block_end, int passes, int activation,
                  uint16_t *packed_out, int out_passes) {
    (void)tier, (void)packed_x, (void)rows, (void)k, (void)gate, (void)up, (void)n, (void)column_block_begin;
    (void)column_block_end, (void)passes, (void)activation, (void)packed_out, (void)out_passes;
    return -1;
}

#endif
