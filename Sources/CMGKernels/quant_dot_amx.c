// AMX-INT8 tier of the quantized prefill products: the panels of 16 weight rows of
// quant_gemm_kquant.h (unpacked to unsigned bytes, four consecutive values of the 16 rows per
// 64-byte line) are exactly the B operand of TDPBSUD, so one tile instruction multiplies a
// sub-block (32 values; 16 for Q6_K) of 16 rows by up to 16 tokens' signed activation bytes
// (Q8_0/Q4_0 weights made signed first: TDPBSSD, no −offset·Σx correction).
// Each sub-block's 16 × 16 int32 sums then leave the tile and take their scales as in the
// AVX-512-VNNI panels: the same exact integers and the same float operations per (token, row), in
// the same order, so results equal qd_kgemm_avx512vnni's bit for bit. Decode and the few-token
// tiles stay on the AVX-512-VNNI code (a tile multiply gains nothing on one token).
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
#define QD_TARGET "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,amx-tile,amx-int8"
#define QD_DOT 2
#include "quant_dot_simd.h"
#include "quant_gemm_kquant.h"  // the panel packing (no QG_KGEMM_NAME: no VNNI driver)

#pragma clang attribute push(__attribute__((target(QD_TARGET))), apply_to = function)

/// Tokens per tile (the tile's rows).
#define QA_TOKENS 16

/// Tiles 0 and 5: the 16 × 16 int32 sums of two consecutive sub-blocks, so one tile multiply runs
/// while the other tile's sums are scaled. Tiles 1, 2: a 32-value sub-block, the activations
/// (tokens × 32 bytes) and the weights (8 lines). Tiles 3, 4: a 16-value piece (Q6_K sub-blocks,
/// and each half of a Q4_0 block, whose activations lie in two 16-byte runs).
static void qa_configure(int tokens) {
    struct {
        uint8_t palette, start_row, reserved[14];
        uint16_t column_bytes[16];
        uint8_t rows[16];
    } config;
    memset(&config, 0, sizeof config);
    config.palette = 1;
    const uint8_t rows[6] = {(uint8_t)tokens, (uint8_t)tokens, 8, (uint8_t)tokens, 4, (uint8_t)tokens};
    const uint16_t bytes[6] = {64, 32, 64, 16, 64, 64};
    for (int i = 0; i < 6; i++) {
        config.rows[i] = rows[i];
        config.column_bytes[i] = bytes[i];
    }
    _tile_loadconfig(&config);
}

/// Where the activation bytes of a token tile lie: byte p of token t at base + t·stride + p − origin.
typedef struct {
    const uint8_t *base;
    size_t stride, origin;
} qa_rows;

/// The activation rows of tokens xs[0 … T−1] over bytes [lo, hi): read in place when they are
/// evenly spaced (prefill), else copied to `copy` (experts' routed tokens), hi − lo bytes apart.
static qa_rows qa_activations(const uint8_t *const *xs, int T, size_t lo, size_t hi, uint8_t *copy) {
    const ptrdiff_t stride = T > 1 ? xs[1] - xs[0] : 0;
    int even = stride > 0;
    for (int t = 2; t < T && even; t++) even = xs[t] - xs[t - 1] == stride;
    if (even) return (qa_rows){xs[0], (size_t)stride, 0};
    for (int t = 0; t < T; t++) memcpy(copy + (size_t)t * (hi - lo), xs[t] + lo, hi - lo);
    return (qa_rows){copy, hi - lo, lo};
}

QD_INLINE const void *qa_at(qa_rows a, size_t position) { return a.base + (position - a.origin); }

/// The weight bytes of a Q8_0/Q4_0 panel made signed (Q8_0 + 128 back to Q8_0, Q4_0 nibbles − 8),
/// so TDPBSSD sums w·x directly, the integers the VNNI panels reach with −offset·Σx.
static void qa_signed_panel32(qg_panel *panel, uint32_t format, size_t count) {
    const __m512i flip = _mm512_set1_epi8((char)0x80), eight = _mm512_set1_epi8(8);
    uint8_t *codes = &panel->codes[0][0][0][0];
    for (size_t line = 0; line < 8 * count; line++) {
        const __m512i v = _mm512_load_si512(codes + 64 * line);
        _mm512_store_si512(codes + 64 * line, format == QD_Q8_0 ? _mm512_xor_si512(v, flip) : _mm512_sub_epi8(v, eight));
    }
}

/// Sums of block `gb` (panel block b) into tile C: Q8_0 one 32-value multiply, Q4_0 two 16-value ones.
#define QA_BLOCK32(C)                                                                  \
    do {                                                                               \
        _tile_zero(C);                                                                 \
        if (format == QD_Q4_0) {                                                       \
            _tile_loadd(3, qa_at(a, qd_q4_0_position(gb, 0, nb)), a.stride);          \
            _tile_loadd(4, lines, 64);                                                 \
            _tile_dpbssd(C, 3, 4);                                                     \
            _tile_loadd(3, qa_at(a, qd_q4_0_position(gb, 16, nb)), a.stride);         \
            _tile_loadd(4, lines + 4 * 64, 64);                                        \
            _tile_dpbssd(C, 3, 4);                                                     \
        } else {                                                                       \
            _tile_loadd(1, qa_at(a, 32 * gb), a.stride);                              \
            _tile_loadd(2, lines, 64);                                                 \
            _tile_dpbssd(C, 1, 2);                                                     \
        }                                                                              \
        _tile_stored(C, sums, 64);                                                     \
    } while (0)

/// Q8_0/Q4_0 panel (`count` blocks from global block b0, signed weights) against T ≤ 16 tokens, as
/// qg_panel32_tokens: out[t·16 + i] = Σ_b (Σ w·x) · (d_w · d_x).
static void qa_panel32(const qg_panel *panel, uint32_t format, size_t count, const uint8_t *const *xs, qa_rows a, int T,
                       size_t n, size_t b0, float *out) {
    const size_t nb = n / 32;
    _Alignas(64) int32_t sums[QA_TOKENS][16];
    __m512 acc[QA_TOKENS];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < count; b++) {
        const size_t gb = b0 + b;
        const uint8_t *lines = &panel->codes[0][0][0][0] + 64 * 8 * b;
        if (b & 1) {
            QA_BLOCK32(5);
        } else {
            QA_BLOCK32(0);
        }
        const __m512 dw = _mm512_load_ps(panel->scales[b / 16][b % 16]);
        for (int t = 0; t < T; t++) {
            const float dx = ((const float *)(xs[t] + qd_scale_offset(n)))[gb];
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[t])), _mm512_mul_ps(dw, _mm512_set1_ps(dx)), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

/// Sums of sub-block s of super-block gb into tile C.
#define QA_SUBBLOCK(C)                                                                 \
    do {                                                                               \
        _tile_zero(C);                                                                 \
        if (values == 32) {                                                            \
            _tile_loadd(1, qa_at(a, 256 * gb + 32 * (size_t)s), a.stride);            \
            _tile_loadd(2, lines, 64);                                                 \
            _tile_dpbsud(C, 1, 2);                                                     \
        } else {                                                                       \
            _tile_loadd(3, qa_at(a, 256 * gb + 16 * (size_t)s), a.stride);            \
            _tile_loadd(4, lines, 64);                                                 \
            _tile_dpbsud(C, 3, 4);                                                     \
        }                                                                              \
        _tile_stored(C, sums, 64);                                                     \
    } while (0)

/// Q4_K/Q6_K panel (`count` super-blocks from global super-block b0) against T ≤ 16 tokens, as
/// qg_panel_tokens: per sub-block f += sum · (d·scale), then f −= (Σ pairs · bsums) · corr, acc += f · d_x.
static void qa_panel_k(const qg_panel *panel, uint32_t format, size_t count, const uint8_t *const *xs, qa_rows a, int T,
                       size_t n, size_t b0, float *out) {
    const int values = format == QD_Q4_K ? 32 : 16, subblocks = 256 / values;
    _Alignas(64) int32_t sums[QA_TOKENS][16];
    __m512 acc[QA_TOKENS];
    for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < count; b++) {
        const size_t gb = b0 + b;
        __m512 f[QA_TOKENS];
        for (int t = 0; t < T; t++) f[t] = _mm512_setzero_ps();
        for (int s = 0; s < subblocks; s++) {
            const uint8_t *lines = &panel->codes[b][s * values / 4][0][0];
            if (s & 1) {
                QA_SUBBLOCK(5);
            } else {
                QA_SUBBLOCK(0);
            }
            const __m512 scale = _mm512_load_ps(panel->scales[b][s]);
            for (int t = 0; t < T; t++) f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(sums[t])), scale, f[t]);
        }
        const __m512 corr = _mm512_load_ps(panel->corr[b]);
        for (int t = 0; t < T; t++) {
            const int16_t *bsums = (const int16_t *)(xs[t] + qd_sum_offset(QD_Q4_K, n)) + 16 * gb;
            __m512i sum = _mm512_setzero_si512();
            for (int j = 0; j < 8; j++) {
                int32_t two;
                memcpy(&two, bsums + 2 * j, 4);
                sum = _mm512_dpwssd_epi32(sum, _mm512_load_si512(panel->pairs[b][j]), _mm512_set1_epi32(two));
            }
            const float dx = ((const float *)(xs[t] + qd_scale_offset(n)))[gb];
            f[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(sum), corr, f[t]);
            acc[t] = _mm512_fmadd_ps(f[t], _mm512_set1_ps(dx), acc[t]);
        }
    }
    for (int t = 0; t < T; t++) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

void qd_kgemm_amx(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *const *xs, size_t tokens,
                  size_t n, float *y, size_t ldy) {
    qg_panel panel;
    _Alignas(64) uint8_t copy[QA_TOKENS * 8 * QG_BLOCKS * 32];  // QA_TOKENS × a panel's 1024 activation bytes
    const int small = format == QD_Q8_0 || format == QD_Q4_0;
    const size_t block = small ? 32 : 256, nb = n / block, step = small ? 8 * QG_BLOCKS : QG_BLOCKS;
    int configured = 0;
    for (size_t b0 = 0; b0 < nb; b0 += step) {
        const size_t count = nb - b0 < step ? nb - b0 : step;
        if (small) {
            qg_pack32(format, w, row_bytes, rows, b0, count, &panel);
            qa_signed_panel32(&panel, format, count);
        } else {
            qg_pack(format, w, row_bytes, rows, b0, count, &panel);
        }
        for (size_t t0 = 0; t0 < tokens; t0 += QA_TOKENS) {
            const int tc = (int)(tokens - t0 < QA_TOKENS ? tokens - t0 : QA_TOKENS);
            if (tc != configured) {
                qa_configure(tc);
                configured = tc;
            }
            const qa_rows a = qa_activations(xs + t0, tc, block * b0, block * (b0 + count), copy);
            float out[QA_TOKENS * QG_ROWS];
            if (small) {
                qa_panel32(&panel, format, count, xs + t0, a, tc, n, b0, out);
            } else {
                qa_panel_k(&panel, format, count, xs + t0, a, tc, n, b0, out);
            }
            qg_store_tokens(out, tc, rows, y + t0 * ldy, ldy, b0 > 0);
        }
    }
    if (configured) _tile_release();
}

#pragma clang attribute pop
#endif
