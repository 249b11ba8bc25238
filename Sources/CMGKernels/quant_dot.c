// Quantized dot products: activation quantization, the scalar reference tier, tier selection and
// the drivers that walk rows and tokens. The vector tiers live in quant_dot_<tier>.c.
#include "mg_quant_dot.h"
#include "mg_common.h"
#include "mg_cpu_tier.h"
#include "mg_gemm_amx.h"
#include "mg_pointwise.h"
#include "quant_dot_internal.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// ---- tier selection ----------------------------------------------------------------------------

// The one CPU probe (cpu_tier.c) decides: the amx kernel tier with AMX-INT8 adds the AMX prefill
// panels (quant_dot_amx.c) to the AVX-512-VNNI code, the avx512 tier with AVX-512-VNNI runs the
// AVX-512-VNNI code, the avx2 tier runs AVX-VNNI where present, else AVX2; MG_MAX_ISA caps the
// kernel tier and so these tiers (baseline keeps the scalar code).

int mg_qd_tier_available(int tier) {
    if (tier <= MG_QD_SCALAR) return 1;
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
    const int detected = mg_kernel_tier_detected();
    switch (tier) {
    case MG_QD_AVX2: return detected >= MG_TIER_AVX2;
    case MG_QD_AVX_VNNI: return detected >= MG_TIER_AVX2 && mg_cpu_has_feature(MG_CPU_AVX_VNNI);
    case MG_QD_AVX512_VNNI: return detected >= MG_TIER_AVX512 && mg_cpu_has_feature(MG_CPU_AVX512_VNNI);
    case MG_QD_AMX_INT8: return mg_qd_tier_available(MG_QD_AVX512_VNNI) && mg_amx_int8_available();
    default: return 0;
    }
#else
    return 0;
#endif
}

/// The highest quantized tier the active kernel tier (mg_kernel_tier, capped by MG_MAX_ISA) allows.
static int cap_from_kernel_tier(void) {
    const int active = mg_kernel_tier();
    if (active >= MG_TIER_AMX) return MG_QD_AMX_INT8;
    if (active >= MG_TIER_AVX512) return MG_QD_AVX512_VNNI;
    if (active >= MG_TIER_AVX2) return MG_QD_AVX_VNNI;
    return MG_QD_SCALAR;
}

static int best_tier_up_to(int cap) {
    for (int tier = cap; tier > MG_QD_SCALAR; tier--) {
        if (mg_qd_tier_available(tier)) return tier;
    }
    return MG_QD_SCALAR;
}

int mg_qd_selected_tier(void) {
    static int selected = -1;  // benign race: every thread computes the same value
    if (selected < 0) selected = best_tier_up_to(cap_from_kernel_tier());
    return selected;
}

static qd_tile_fn tile_for(int tier) {
    tier = tier < 0 ? mg_qd_selected_tier() : best_tier_up_to(tier);
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
    switch (tier) {
    case MG_QD_AMX_INT8:
    case MG_QD_AVX512_VNNI: return qd_tile_avx512vnni;
    case MG_QD_AVX_VNNI: return qd_tile_avxvnni;
    case MG_QD_AVX2: return qd_tile_avx2;
    default: break;
    }
#endif
    return qd_tile_scalar;
}

// ---- activation quantization -------------------------------------------------------------------

int mg_qd_supports(uint32_t format) {
    return format == QD_Q8_0 || format == QD_Q4_0 || format == QD_Q4_K || format == QD_Q6_K;
}

size_t mg_qd_activation_row_bytes(uint32_t format, size_t n) {
    if (!mg_qd_supports(format) || n == 0 || n % qd_block_size(format) != 0) return 0;
    size_t sums = qd_block_size(format) == 32 ? 4 * (n / 32) : 2 * (n / 16);
    size_t bytes = qd_sum_offset(format, n) + sums;
    return (bytes + 63) & ~(size_t)63;
}

/// ggml's nearest_int: round half to even (the default rounding mode). `rintf` rather than
/// `lrintf`, which may set errno and so stays a libm call per value; the values are within ±128,
/// where both give the same integer, and `rintf` vectorises.
static inline int nearest_even(float value) { return (int)rintf(value); }

/// Bits of |x| as an unsigned integer, NaN as 0. Non-negative floats order as their bits, so the
/// largest magnitude of a block is an integer max, a reduction the vectoriser takes, where it kept
/// an fmaxf chain scalar (for NaN's sake) and Q8_K's scan branched per value: the serial time
/// outside a Llama-7B Q4_K_M decode step's parallel regions went from 4.4 to 2.5 ms. NaN as 0 keeps
/// fmaxf's (and `a > amax`'s) rule that NaN never wins.
static inline uint32_t magnitude_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    u &= 0x7FFFFFFFu;
    return u > 0x7F800000u ? 0 : u;
}

static inline float float_from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// ggml-cpu's quantize_row_q8_0 on x86 (the AVX/AVX2 code every x86-64 build of llama.cpp runs):
// d = max|x|/127 stored as f16, q = round-half-even(x · 127/max|x|). Not quantize_row_q8_0_ref,
// whose round-half-away gives other bytes on exact ties: they do occur (3 in the prefill of the
// tiny random Gemma fixture, whose Q8_0 logits then moved by 0.06, logit std 2, from llama.cpp's).
MG_MULTIVERSION static void quantize_q8_0(const float *x, size_t n, uint8_t *row) {
    int8_t *q = (int8_t *)row;
    float *scales = (float *)(row + qd_scale_offset(n));
    int32_t *sums = (int32_t *)(row + qd_sum_offset(QD_Q8_0, n));
    for (size_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        uint32_t largest = 0;
        for (int i = 0; i < 32; i++) {
            const uint32_t m = magnitude_bits(xb[i]);
            largest = m > largest ? m : largest;
        }
        const float amax = float_from_bits(largest);
        float d = amax / 127.0f;
        float id = amax != 0 ? 127.0f / amax : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < 32; i++) {
            int v = nearest_even(xb[i] * id);
            q[32 * b + i] = (int8_t)v;
            sum += v;
        }
        scales[b] = (float)(_Float16)d;
        sums[b] = sum;
    }
}

// quantize_row_q8_K_ref: the value of largest magnitude maps to −127, d = 1/iscale in f32.
MG_MULTIVERSION static void quantize_q8_K(const float *x, size_t n, uint8_t *row) {
    int8_t *q = (int8_t *)row;
    float *scales = (float *)(row + qd_scale_offset(n));
    int16_t *bsums = (int16_t *)(row + qd_sum_offset(QD_Q4_K, n));
    for (size_t b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * b;
        // The value of largest magnitude, the first one where several tie (as a scan keeping the
        // first strictly larger one): the magnitude by a vector max, then its first position.
        uint32_t largest = 0;
        for (int i = 0; i < 256; i++) {
            const uint32_t m = magnitude_bits(xb[i]);
            largest = m > largest ? m : largest;
        }
        int at = 0;
        for (int c = 0; c < 256; c += 16) {
            int hit = 0;
            for (int i = c; i < c + 16; i++) hit |= magnitude_bits(xb[i]) == largest;
            if (hit) {
                at = c;
                break;
            }
        }
        while (at < 255 && magnitude_bits(xb[at]) != largest) at++;
        const float max = xb[at];
        if (largest == 0) {
            scales[b] = 0;
            memset(q + 256 * b, 0, 256);
            memset(bsums + 16 * b, 0, 32);
            continue;
        }
        float iscale = -127.0f / max;
        for (int i = 0; i < 256; i++) {
            int v = nearest_even(iscale * xb[i]);
            q[256 * b + i] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += q[256 * b + 16 * g + i];
            bsums[16 * b + g] = (int16_t)sum;
        }
        scales[b] = 1.0f / iscale;
    }
}

void mg_qd_quantize_activation(uint32_t format, const float *x, size_t ldx, size_t rows, size_t n,
                               uint8_t *out, size_t out_row_bytes) {
    if (mg_qd_activation_row_bytes(format, n) == 0) return;
    for (size_t r = 0; r < rows; r++) {
        if (qd_block_size(format) == 32) {
            uint8_t *row = out + r * out_row_bytes;
            quantize_q8_0(x + r * ldx, n, row);
            if (format == QD_Q4_0) {
                // Each pair of blocks A, B to A[0..15] B[0..15] A[16..31] B[16..31] (qd_q4_0_position).
                uint8_t pair[64];
                for (size_t b = 0; b + 2 <= n / 32; b += 2) {
                    uint8_t *p = row + 32 * b;
                    memcpy(pair, p, 16);
                    memcpy(pair + 16, p + 32, 16);
                    memcpy(pair + 32, p + 16, 16);
                    memcpy(pair + 48, p + 48, 16);
                    memcpy(p, pair, 64);
                }
            }
        } else {
            quantize_q8_K(x + r * ldx, n, out + r * out_row_bytes);
        }
    }
}

// ---- scalar tier: integer block sums, then one float multiply-add per block ---------------------

static float dot_q8_0(const uint8_t *w, const uint8_t *x, size_t n, size_t b0, size_t b1) {
    const int8_t *xq = (const int8_t *)x;
    const float *xd = (const float *)(x + qd_scale_offset(n));
    float sum = 0;
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 34 * b;
        const int8_t *wq = (const int8_t *)(block + 2);
        int32_t s = 0;
        for (int i = 0; i < 32; i++) s += wq[i] * xq[32 * b + i];
        sum += qd_half(block) * xd[b] * (float)s;
    }
    return sum;
}

static float dot_q4_0(const uint8_t *w, const uint8_t *x, size_t n, size_t b0, size_t b1) {
    const int8_t *xq = (const int8_t *)x;
    const float *xd = (const float *)(x + qd_scale_offset(n));
    float sum = 0;
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 18 * b;
        const size_t nb = n / 32;
        int32_t s = 0;
        for (int i = 0; i < 16; i++) {
            s += ((block[2 + i] & 0xF) - 8) * xq[qd_q4_0_position(b, (size_t)i, nb)];
            s += ((block[2 + i] >> 4) - 8) * xq[qd_q4_0_position(b, (size_t)i + 16, nb)];
        }
        sum += qd_half(block) * xd[b] * (float)s;
    }
    return sum;
}

static float dot_q4_K(const uint8_t *w, const uint8_t *x, size_t n, size_t b0, size_t b1) {
    const int8_t *xq = (const int8_t *)x;
    const float *xd = (const float *)(x + qd_scale_offset(n));
    const int16_t *bsums = (const int16_t *)(x + qd_sum_offset(QD_Q4_K, n));
    float sum = 0;
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 144 * b;
        const uint8_t *qs = block + 16;
        const int8_t *xb = xq + 256 * b;
        int32_t sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t scale, min;
            qd_q4k_scale_min(j, block + 4, &scale, &min);
            const uint8_t *q = qs + 32 * (j / 2);
            int shift = 4 * (j % 2);
            int32_t s = 0;
            for (int i = 0; i < 32; i++) s += ((q[i] >> shift) & 0xF) * xb[32 * j + i];
            sumi += scale * s;
            summ += min * (bsums[16 * b + 2 * j] + bsums[16 * b + 2 * j + 1]);
        }
        sum += xd[b] * (qd_half(block) * (float)sumi - qd_half(block + 2) * (float)summ);
    }
    return sum;
}

/// The 6-bit value of element e (0..255) of a Q6_K block, 0..63 (dequantize_row_q6_K's layout).
static inline int q6_value(const uint8_t *block, int e) {
    int half = e / 128, within = e % 128, quarter = within / 32, l = within % 32;
    const uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
    int low = quarter & 1 ? ql[l + 32] : ql[l];
    low = quarter >= 2 ? low >> 4 : low & 0xF;
    int high = (qh[l] >> (2 * quarter)) & 3;
    return low | (high << 4);
}

static float dot_q6_K(const uint8_t *w, const uint8_t *x, size_t n, size_t b0, size_t b1) {
    const int8_t *xq = (const int8_t *)x;
    const float *xd = (const float *)(x + qd_scale_offset(n));
    float sum = 0;
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *block = w + 210 * b;
        const int8_t *scales = (const int8_t *)(block + 192);
        int32_t sumi = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int i = 0; i < 16; i++) s += (q6_value(block, 16 * g + i) - 32) * xq[256 * b + 16 * g + i];
            sumi += scales[g] * s;
        }
        sum += qd_half(block + 208) * xd[b] * (float)sumi;
    }
    return sum;
}

void qd_tile_scalar(uint32_t format, const uint8_t *w, const uint8_t *const *xs, int tokens, size_t n, size_t b0, size_t b1, float *out) {
    for (int t = 0; t < tokens; t++) {
        switch (format) {
        case QD_Q8_0: out[t] = dot_q8_0(w, xs[t], n, b0, b1); break;
        case QD_Q4_0: out[t] = dot_q4_0(w, xs[t], n, b0, b1); break;
        case QD_Q4_K: out[t] = dot_q4_K(w, xs[t], n, b0, b1); break;
        case QD_Q6_K: out[t] = dot_q6_K(w, xs[t], n, b0, b1); break;
        default: out[t] = NAN; break;
        }
    }
}

// ---- drivers -----------------------------------------------------------------------------------

/// Bytes ahead of each row stream that the decode rows prefetch (0: none). 1 KB measured best of
/// 0, 1, 2, 4 and 8 KB with four streams (Q8_0 11008 × 4096, Q6_K 2048 × 16384; one thread, Zen 4).
/// Intel cores get 2 KB: on Emerald Rapids, whose L2 streamer restarts at every 4 KB page, the
/// Gemma-2B Q4_0 step ran at 93–96 % of a plain read with 2 KB against 91–93 % with 1 KB in the
/// same processes (quant_decode_regions.c), and whole Llama-7B / Gemma-2B Q4_0 steps at 93–98 %
/// against 86–96 % (alternating processes).
#ifndef QD_GEMV_AHEAD
#define QD_GEMV_AHEAD 1024
#endif
#ifndef QD_GEMV_AHEAD_INTEL
#define QD_GEMV_AHEAD_INTEL 2048
#endif

/// The scalar tier's decode rows: one reference dot product per row.
static void gemv_rows_scalar(uint32_t format, const uint8_t *w, size_t row_bytes, int rows, const uint8_t *x, size_t n,
                             size_t b0, size_t b1, size_t ahead, float *out) {
    (void)ahead;
    for (int r = 0; r < rows; r++) qd_tile_scalar(format, w + (size_t)r * row_bytes, &x, 1, n, b0, b1, out + r);
}

#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
/// The AVX-512-VNNI decode rows for this CPU: with GFNI, and on Intel cores with AVX-512-VBMI the
/// Q4_0 and Q4_K values on 512-bit vectors (Zen 4 runs 512-bit operations as two halves and keeps the
/// 256-bit loops). MG_QD_NO_GFNI=1 forces the plain rows and MG_QD_ROWS_ZMM=0 or 1 the 256- or
/// 512-bit loops (1 only where VBMI is present), so every variant can be tested and timed on one
/// machine. Decided once: this runs for every decode product.
static qd_gemv_rows_fn avx512vnni_rows(void) {
    static _Atomic(qd_gemv_rows_fn) known = NULL;
    qd_gemv_rows_fn rows = atomic_load_explicit(&known, memory_order_relaxed);
    if (rows == NULL) {
        const char *zmm = getenv("MG_QD_ROWS_ZMM");
        if (!mg_cpu_has_feature(MG_CPU_GFNI) || getenv("MG_QD_NO_GFNI")) {
            rows = qd_gemv_rows_avx512vnni;
        } else if (mg_cpu_has_feature(MG_CPU_AVX512_VBMI) && (zmm ? strcmp(zmm, "0") != 0 : mg_cpu_has_feature(MG_CPU_INTEL))) {
            rows = qd_gemv_rows_avx512vnni_gfni_zmm;
        } else {
            rows = qd_gemv_rows_avx512vnni_gfni;
        }
        atomic_store_explicit(&known, rows, memory_order_relaxed);
    }
    return rows;
}
#endif

/// The decode rows function of a tier and how many rows it takes per pass.
static qd_gemv_rows_fn gemv_rows_for(int tier, int *rows_per_pass) {
    tier = tier < 0 ? mg_qd_selected_tier() : best_tier_up_to(tier);
    *rows_per_pass = QD_GEMV_ROWS_NARROW;
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
    switch (tier) {
    case MG_QD_AMX_INT8:
    case MG_QD_AVX512_VNNI: *rows_per_pass = QD_GEMV_ROWS_WIDE; return avx512vnni_rows();
    case MG_QD_AVX_VNNI: return qd_gemv_rows_avxvnni;
    case MG_QD_AVX2: return qd_gemv_rows_avx2;
    default: break;
    }
#endif
    return gemv_rows_scalar;
}

/// y[r − row_begin] = W_r · X for row_begin ≤ r < row_end. The rows are cut into as many equal
/// segments as the tier takes rows per pass, and each pass takes the next row of every segment:
/// every segment is one sequential stream, which the hardware prefetchers follow (a pass over
/// adjacent rows made each stream jump by a few KB at every row end, and measured at half the
/// speed of one row at a time). The rows left over after whole segments go one at a time.
/// Rows are passed over whole, however long: column slices that keep a down projection's
/// activation row in L1 (quant_decode_regions.c `slice=`) ran the down regions 4–8 % slower and
/// whole steps 1–3 % slower on Emerald Rapids (Zen 4's two-CCD state, which they were meant for,
/// is not measured).
static void gemv_rows(int tier, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin, size_t row_end,
                      const uint8_t *xa, size_t n, float *y) {
    int per_pass;
    qd_gemv_rows_fn rows_fn = gemv_rows_for(tier, &per_pass);
    const size_t count = row_end - row_begin, segment = count / (size_t)per_pass, nb = n / qd_block_size(format);
    const size_t ahead = mg_cpu_has_feature(MG_CPU_INTEL) ? QD_GEMV_AHEAD_INTEL : QD_GEMV_AHEAD;
    const uint8_t *base = w + row_begin * row_bytes;
    float out[QD_GEMV_ROWS_WIDE];
    for (size_t k = 0; k < segment; k++) {
        rows_fn(format, base + k * row_bytes, segment * row_bytes, per_pass, xa, n, 0, nb, ahead, out);
        for (int i = 0; i < per_pass; i++) y[(size_t)i * segment + k] = out[i];
    }
    for (size_t r = segment * (size_t)per_pass; r < count; r++) {
        rows_fn(format, base + r * row_bytes, row_bytes, 1, xa, n, 0, nb, ahead, y + r);
    }
}

/// Tokens per pass over a weight row range: their activation rows stay in L2 while each weight row
/// is decoded once per tile of QD_MAX_TOKENS tokens.
#define TOKEN_CHUNK 64
/// Values per pass along a row in prefill: wide rows (the down projections' 11008 or 16384) are cut
/// so the four activation slices of a tile stay in L1. Decode keeps whole rows: cutting them turns
/// the one sequential weight stream into short strided runs, which measured slower.
#define K_CHUNK 4096

/// The panel GEMM of a tier, or NULL (scalar tier; Q8_0 on AVX2, whose byte products saturate
/// int16 for weights stored + 128).
static qd_kgemm_fn kgemm_for(int tier, uint32_t format) {
    tier = tier < 0 ? mg_qd_selected_tier() : best_tier_up_to(tier);
#if defined(__x86_64__) && defined(__clang__) && !defined(MG_NO_QD_SIMD)
    switch (tier) {
    case MG_QD_AMX_INT8: return qd_kgemm_amx;
    case MG_QD_AVX512_VNNI: return qd_kgemm_avx512vnni;
    case MG_QD_AVX_VNNI: return qd_kgemm_avxvnni;
    case MG_QD_AVX2: return format == QD_Q8_0 ? NULL : qd_kgemm_avx2;
    default: break;
    }
#endif
    return NULL;
}

/// Fewest tokens for which unpacking a panel once pays off against the per-row tiles.
#define KGEMM_MIN_TOKENS 8
/// Tokens whose activation row pointers one pass over the panels holds.
#define KGEMM_TOKEN_CHUNK 256

/// Prefill: panels of QG_ROWS weight rows, each unpacked once per pass over up to
/// KGEMM_TOKEN_CHUNK tokens.
static void kquant_gemm(qd_kgemm_fn kgemm, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin,
                        size_t row_end, const uint8_t *xa, size_t xa_row_bytes, const int32_t *token_rows, size_t tokens,
                        size_t n, const float *bias, float *y, size_t ldy) {
    const uint8_t *xs[KGEMM_TOKEN_CHUNK];
    for (size_t t0 = 0; t0 < tokens; t0 += KGEMM_TOKEN_CHUNK) {
        const size_t count = tokens - t0 < KGEMM_TOKEN_CHUNK ? tokens - t0 : KGEMM_TOKEN_CHUNK;
        for (size_t i = 0; i < count; i++) {
            xs[i] = xa + (token_rows ? (size_t)token_rows[t0 + i] : t0 + i) * xa_row_bytes;
        }
        for (size_t r = row_begin; r < row_end; r += QG_ROWS) {
            const int rows = (int)(row_end - r < QG_ROWS ? row_end - r : QG_ROWS);
            float *target = y + t0 * ldy + (r - row_begin);
            kgemm(format, w + r * row_bytes, row_bytes, rows, xs, count, n, target, ldy);
            if (bias) {
                for (size_t t = 0; t < count; t++) {
                    for (int i = 0; i < rows; i++) target[t * ldy + i] += bias[r - row_begin + i];
                }
            }
        }
    }
}

void mg_qd_gemm(int tier, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin, size_t row_end,
                const uint8_t *xa, size_t xa_row_bytes, const int32_t *token_rows, size_t tokens, size_t n,
                const float *bias, float *y, size_t ldy) {
    if (mg_qd_activation_row_bytes(format, n) == 0) return;
    if (tokens >= KGEMM_MIN_TOKENS) {
        qd_kgemm_fn kgemm = kgemm_for(tier, format);
        if (kgemm) {
            kquant_gemm(kgemm, format, w, row_bytes, row_begin, row_end, xa, xa_row_bytes, token_rows, tokens, n, bias, y, ldy);
            return;
        }
    }
    if (tokens == 1) {
        mg_qd_gemv(tier, format, w, row_bytes, row_begin, row_end, xa + (token_rows ? (size_t)token_rows[0] : 0) * xa_row_bytes,
                   n, bias, y);
        return;
    }
    qd_tile_fn tile = tile_for(tier);
    const size_t block = qd_block_size(format), nb = n / block;
    const size_t chunk_blocks = tokens == 1 || n <= K_CHUNK + K_CHUNK / 2 ? nb : K_CHUNK / block;  // a multiple of 8
    for (size_t t0 = 0; t0 < tokens; t0 += TOKEN_CHUNK) {
        size_t t1 = t0 + TOKEN_CHUNK < tokens ? t0 + TOKEN_CHUNK : tokens;
        for (size_t b0 = 0; b0 < nb; b0 += chunk_blocks) {
            size_t b1 = b0 + chunk_blocks < nb ? b0 + chunk_blocks : nb;
            for (size_t r = row_begin; r < row_end; r++) {
                const uint8_t *row = w + r * row_bytes;
                for (size_t t = t0; t < t1; t += QD_MAX_TOKENS) {
                    int count = (int)(t1 - t < QD_MAX_TOKENS ? t1 - t : QD_MAX_TOKENS);
                    const uint8_t *xs[QD_MAX_TOKENS];
                    for (int i = 0; i < count; i++) {
                        size_t source = token_rows ? (size_t)token_rows[t + i] : t + i;
                        xs[i] = xa + source * xa_row_bytes;
                    }
                    float out[QD_MAX_TOKENS];
                    tile(format, row, xs, count, n, b0, b1, out);
                    for (int i = 0; i < count; i++) {
                        float *target = y + (t + i) * ldy + (r - row_begin);
                        if (b0 == 0) {
                            *target = out[i] + (bias ? bias[r - row_begin] : 0.0f);
                        } else {
                            *target += out[i];
                        }
                    }
                }
            }
        }
    }
}

void mg_qd_gemv_gated(int tier, uint32_t format, const uint8_t *gate, const uint8_t *up, size_t row_bytes,
                      size_t row_begin, size_t row_end, const uint8_t *xa, size_t n, int activation, float *y) {
    if (mg_qd_activation_row_bytes(format, n) == 0) return;
    // Rows per pass over gate, then up: the whole chunk of a decode region (a tapered chunk is at
    // most an eighth of the rows, 2048 for Gemma-2B's 16384). Each pass starts one stream per row
    // segment, and on Zen 4 with a fast memory state (a plain read at 48–57 GB/s) every stream
    // start costs: 256 rows per pass (73 KB streams at 2048 columns) ran the Gemma-2B gate/up
    // regions at 88 % of the read, whole chunks at 90–98 % (quant_decode_regions.c). The gates go
    // straight to y and are combined in place.
    enum { CHUNK = 4096 };
    float ups[CHUNK];
    for (size_t r0 = row_begin; r0 < row_end; r0 += CHUNK) {
        size_t count = row_end - r0 < CHUNK ? row_end - r0 : CHUNK;
        float *gates = y + (r0 - row_begin);
        gemv_rows(tier, format, gate, row_bytes, r0, r0 + count, xa, n, gates);
        gemv_rows(tier, format, up, row_bytes, r0, r0 + count, xa, n, ups);
        mg_gated_activation((mg_activation_kind)activation, gates, ups, gates, count);
    }
}

void mg_qd_gemv(int tier, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin, size_t row_end,
                const uint8_t *xa, size_t n, const float *bias, float *y) {
    if (mg_qd_activation_row_bytes(format, n) == 0) return;
    gemv_rows(tier, format, w, row_bytes, row_begin, row_end, xa, n, y);
    if (bias) {
        for (size_t r = row_begin; r < row_end; r++) y[r - row_begin] += bias[r - row_begin];
    }
}

MG_MULTIVERSION
uint64_t mg_qd_read_bytes(const uint8_t *p, size_t n) {
    uint64_t lanes[8] = {0};
    for (size_t i = 0; i + 64 <= n; i += 64) {
        uint64_t words[8];
        memcpy(words, p + i, 64);
        for (int l = 0; l < 8; l++) lanes[l] += words[l];
    }
    uint64_t sum = 0;
    for (int l = 0; l < 8; l++) sum += lanes[l];
    return sum;
}
