// Shared by the tier files of the quantized dot products (not part of the public header).
#ifndef MG_QUANT_DOT_INTERNAL_H
#define MG_QUANT_DOT_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QD_Q4_0 2u
#define QD_Q8_0 8u
#define QD_Q4_K 12u
#define QD_Q6_K 14u

/// Most activation rows one tile call handles; one weight row is decoded once per tile.
#define QD_MAX_TOKENS 4

/// out[t] = Σ over blocks b0 ≤ b < b1 of W_row · X_t for t < tokens (≤ QD_MAX_TOKENS), `w` the
/// start of the weight row, `xs[t]` an activation row of n values in the layout of
/// mg_qd_activation_row_bytes. For Q4_0, b0 is even (activations are stored in block pairs).
typedef void (*qd_tile_fn)(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out);

void qd_tile_scalar(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out);
void qd_tile_avx2(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out);
void qd_tile_avxvnni(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out);
void qd_tile_avx512vnni(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out);

// ---- Decode GEMV: several weight rows per pass over one activation row --------------------------

/// out[r] = W_r · X over blocks b0 ≤ b < b1 for r < rows (at most the tier's row count, see
/// qd_gemv_rows_for) weight rows `row_bytes` apart from `w` and one activation row `x` of n values
/// (b0 a multiple of 8 blocks); each row stream is prefetched `ahead` bytes ahead. Per row the
/// float operations are those of the tier's qd_tile_fn with one token over the same blocks, so the
/// results equal it.
/// Rows per decode pass: 4 at AVX-512-VNNI (32 vector registers), 2 at the 16-register tiers.
#ifndef QD_GEMV_ROWS_WIDE
#define QD_GEMV_ROWS_WIDE 4
#endif
#ifndef QD_GEMV_ROWS_NARROW
#define QD_GEMV_ROWS_NARROW 2
#endif

typedef void (*qd_gemv_rows_fn)(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n,
                                size_t b0, size_t b1, size_t ahead, float *out);

void qd_gemv_rows_avx2(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0, size_t b1,
                       size_t ahead, float *out);
void qd_gemv_rows_avxvnni(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0, size_t b1,
                          size_t ahead, float *out);
void qd_gemv_rows_avx512vnni(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0, size_t b1,
                             size_t ahead, float *out);
void qd_gemv_rows_avx512vnni_gfni(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0, size_t b1,
                                  size_t ahead, float *out);
void qd_gemv_rows_avx512vnni_gfni_zmm(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n, size_t b0,
                                      size_t b1, size_t ahead, float *out);

// ---- Prefill GEMM: panels of 16 weight rows unpacked once, reused by every token ----------------

/// Weight rows per panel and super-blocks (of 256 values) per panel pass.
#define QG_ROWS 16
#define QG_BLOCKS 4

/// A panel: QG_ROWS rows × QG_BLOCKS super-blocks of Q4_K or Q6_K weights unpacked to unsigned
/// bytes (0..15 or 0..63), four consecutive values of the 16 rows side by side per 64-byte line
/// ("rows in lanes"), so one broadcast of four activation bytes meets 16 rows in two vpdpbusd.
/// Per sub-block (32 values for Q4_K, 16 for Q6_K) and row: the float scale d·scale. The
/// correction (Q4_K: −dmin·Σ min_j·Σx_j; Q6_K: −32·d·Σ scale_g·Σx_g) is an int16-pair product of
/// `pairs` with the activation's 16-value sums, times `corr` (dmin or 32·d). Q8_0/Q4_0 panels
/// (qg_pack32) hold 8·QG_BLOCKS blocks of 32 as bytes (Q8_0 + 128, Q4_0 nibbles) and only the
/// per-block f16 scales, in scales[b / 16][b % 16].
typedef struct {
    _Alignas(64) uint8_t codes[QG_BLOCKS][64][QG_ROWS][4];
    _Alignas(64) float scales[QG_BLOCKS][16][QG_ROWS];
    _Alignas(64) int32_t pairs[QG_BLOCKS][8][QG_ROWS];
    _Alignas(64) float corr[QG_BLOCKS][QG_ROWS];
} qg_panel;

/// y[t·ldy + i] = W_i · X_t for i < rows (≤ QG_ROWS) weight rows starting at `w` (`row_bytes`
/// apart) and t < tokens activation rows xs[t] (this file's activation layout for `format`).
typedef void (*qd_kgemm_fn)(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs,
                            size_t tokens, size_t n, float *y, size_t ldy);

void qd_kgemm_avx2(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens, size_t n, float *y, size_t ldy);
void qd_kgemm_avxvnni(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens, size_t n, float *y, size_t ldy);
void qd_kgemm_avx512vnni(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens, size_t n, float *y, size_t ldy);
void qd_kgemm_amx(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens, size_t n, float *y, size_t ldy);

static inline size_t qd_block_size(uint32_t format) {
    return (format == QD_Q4_K || format == QD_Q6_K) ? 256 : 32;
}

/// Offsets inside an activation row of n values: q at 0, d after it, then the sums.
static inline size_t qd_scale_offset(size_t n) { return n; }
static inline size_t qd_sum_offset(uint32_t format, size_t n) { return n + 4 * (n / qd_block_size(format)); }

/// Position of value i (0..31) of block b inside a Q4_0 activation row of nb blocks. Q4_0 packs
/// values i and i + 16 of a block in one byte, so the activations of each pair of blocks (A, B) are
/// stored A[0..15] B[0..15] A[16..31] B[16..31]: one 32-byte load of low nibbles of A and B, one of
/// high nibbles, meet their activations with no shuffles. An odd last block stays in order.
static inline size_t qd_q4_0_position(size_t b, size_t i, size_t nb) {
    if ((nb & 1) && b == nb - 1) return 32 * b + i;
    return 64 * (b / 2) + (i < 16 ? 16 * (b % 2) + i : 32 + 16 * (b % 2) + (i - 16));
}

static inline float qd_half(const uint8_t *p) {
    _Float16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

/// Q4_K's packed 6-bit scale and min of sub-block j (get_scale_min_k4 of ggml-quants.c).
static inline void qd_q4k_scale_min(int j, const uint8_t *q, uint8_t *scale, uint8_t *min) {
    if (j < 4) {
        *scale = q[j] & 63;
        *min = q[j + 4] & 63;
    } else {
        *scale = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *min = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
