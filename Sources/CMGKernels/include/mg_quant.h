#ifndef MG_QUANT_H
#define MG_QUANT_H
#include "mg_common.h"

// GGML block formats (ggml-common.h layouts): dequantization of whole rows to float32 and the
// quantizers `mgm quantize` writes with. Type ids are GGML's (`ggml_type`).
//
// Dequantization is bit-exact with llama.cpp's `dequantize_row_*` and the gguf Python package's
// `quants` module: the same float32 operations in the same order, never contracted to FMA.

/// GGML type ids of the block formats these functions handle.
enum {
    MG_GGML_Q4_0 = 2, MG_GGML_Q4_1 = 3, MG_GGML_Q5_0 = 6, MG_GGML_Q5_1 = 7, MG_GGML_Q8_0 = 8,
    MG_GGML_Q2_K = 10, MG_GGML_Q3_K = 11, MG_GGML_Q4_K = 12, MG_GGML_Q5_K = 13, MG_GGML_Q6_K = 14,
};

/// Dequantizes `blocks` whole blocks of type `ggml_type` at `src` (any alignment) into `dst`
/// (`blocks × block size` floats). Returns 0, or -1 for a type it does not handle.
int mg_dequantize_blocks(int ggml_type, const void *src, float *dst, size_t blocks);

/// Quantizes `n` floats (a multiple of the block size) to blocks of `ggml_type` at `dst`.
/// Q8_0, Q4_0 and Q5_0 are bit-exact with llama.cpp's `quantize_row_*_ref` (and the
/// gguf package); Q4_K and Q6_K use this project's own per-sub-block min/max search (valid blocks
/// any GGML reader decodes, not byte-identical to llama.cpp's quantizer). Returns 0, or -1 for an
/// unsupported type.
int mg_quantize_row(int ggml_type, const float *src, void *dst, size_t n);

#endif
