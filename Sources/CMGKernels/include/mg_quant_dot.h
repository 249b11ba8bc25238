#ifndef MG_QUANT_DOT_H
#define MG_QUANT_DOT_H
#include <stddef.h>
#include <stdint.h>

// Integer dot products on GGML quantized weight blocks (Q8_0, Q4_0, Q4_K, Q6_K), as llama.cpp
// computes them: each activation row is quantized once per block (to 8-bit values with one float
// scale per 32 values for Q8_0/Q4_0 weights, per 256 for the K-quants), the block products are
// exact integer sums and only the per-block scaling is float.
//
// Weights are rows of raw blocks exactly as GGUF stores them. Activation rows use this file's own
// layout (see mg_qd_activation_row_bytes), written by mg_qd_quantize_activation.
//
// Tiers follow the kernel tier of mg_cpu_tier.h (one CPUID probe, capped by MG_MAX_ISA):
// amx|avx512bf16|avx512 allow AVX-512-VNNI; avx2 allows AVX-VNNI then AVX2; baseline forces the
// scalar code. Dequantization of these formats is mg_dequantize_blocks (mg_quant.h).

/// Instruction-set tiers of these kernels, lowest first.
typedef enum {
    MG_QD_SCALAR = 0,      ///< portable C; also the reference every other tier is tested against
    MG_QD_AVX2 = 1,        ///< AVX2 maddubs/madd
    MG_QD_AVX_VNNI = 2,    ///< AVX-VNNI (VEX vpdpbusd/vpdpwssd on 256-bit vectors)
    MG_QD_AVX512_VNNI = 3, ///< AVX-512-VNNI + VL (EVEX vpdpbusd/vpdpwssd, 32 vector registers)
    MG_QD_AMX_INT8 = 4,    ///< AVX-512-VNNI, with AMX-INT8 tiles for the prefill panels (8 tokens or more)
} mg_qd_tier;

/// The tier used when a call passes a negative tier: the best the CPU has, capped by MG_MAX_ISA.
int mg_qd_selected_tier(void);

/// 1 when this CPU (and OS) can run `tier`, regardless of MG_MAX_ISA.
int mg_qd_tier_available(int tier);

/// 1 when weights of GGML type `format` (ggml_type id) have kernels here.
int mg_qd_supports(uint32_t format);

/// Bytes of one quantized activation row of `n` values for weights of `format` (a multiple of 64),
/// or 0 when the format is unsupported or `n` is not a whole number of weight blocks.
/// Layout: int8 q[n]; float d[n/B]; then int32 sum[n/32] (B = 32) or int16 bsum[n/16] (B = 256).
size_t mg_qd_activation_row_bytes(uint32_t format, size_t n);

/// Quantizes `rows` rows of `n` floats (row stride `ldx`) for weights of `format`: to Q8_0 as
/// quantize_row_q8_0_ref does for Q8_0/Q4_0 weights, to Q8_K as quantize_row_q8_K_ref for K-quants.
void mg_qd_quantize_activation(uint32_t format, const float *x, size_t ldx, size_t rows, size_t n,
                               uint8_t *out, size_t out_row_bytes);

/// y[t·ldy + (r − row_begin)] = Σ_k W[r,k]·X[t,k] (+ bias[r − row_begin]) for row_begin ≤ r < row_end
/// and t < tokens. W rows are `row_bytes` apart from `w`; activation row of output t is
/// `xa + (token_rows ? token_rows[t] : t)·xa_row_bytes` (so a Mixtral expert passes the tokens
/// routed to it). `tier` < 0 picks mg_qd_selected_tier(); a tier the CPU lacks falls back to the
/// best available below it.
void mg_qd_gemm(int tier, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin, size_t row_end,
                const uint8_t *xa, size_t xa_row_bytes, const int32_t *token_rows, size_t tokens, size_t n,
                const float *bias, float *y, size_t ldy);

/// Decode product: y[r − row_begin] = W[r,·]·X (+ bias[r − row_begin]) for row_begin ≤ r < row_end and
/// one activation row `xa`, several weight rows per pass over it (4 at AVX-512-VNNI, 2 at the
/// 16-register tiers). Equal to mg_qd_gemm with one token.
void mg_qd_gemv(int tier, uint32_t format, const uint8_t *w, size_t row_bytes, size_t row_begin, size_t row_end,
                const uint8_t *xa, size_t n, const float *bias, float *y);

/// Decode MLP: y[r − row_begin] = act(gate_r·x)·(up_r·x) for one activation row, both matrices of
/// `format` with `row_bytes` per row. `activation` is an mg_activation_kind (mg_pointwise.h).
void mg_qd_gemv_gated(int tier, uint32_t format, const uint8_t *gate, const uint8_t *up, size_t row_bytes,
                      size_t row_begin, size_t row_end, const uint8_t *xa, size_t n, int activation, float *y);

/// Reads `n` bytes (n a multiple of 64) and returns a checksum: the plain memory read that
/// benchmarks put next to the products over the same bytes.
uint64_t mg_qd_read_bytes(const uint8_t *p, size_t n);

#endif
