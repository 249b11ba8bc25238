#ifndef MG_ROPE_H
#define MG_ROPE_H
#include "mg_common.h"

/// Rotary-embedding tables in the Hugging Face float32 recipe: inv_freq[i] = 1 / theta^(2i/d)
/// (exponent computed as float32 (2i)/d, power correctly rounded), angle = (float)pos · inv_freq[i]
/// rounded to float32, then cos/sin of that float32 angle. `cos_out`/`sin_out` are [count, d/2].
void mg_rope_table(const int64_t *positions, size_t count, size_t head_dim, float theta, float *inv_freq,
                   float *cos_out, float *sin_out);

/// Rotate-half RoPE in place on `x` viewed as [rows, heads, head_dim], row t using row t of the
/// [rows, head_dim/2] cos/sin tables: x1' = x1·cos − x2·sin, x2' = x2·cos + x1·sin (x1, x2 the two
/// halves of each head).
void mg_rope_rows(float *x, size_t rows, size_t heads, size_t head_dim, const float *cos_table, const float *sin_table);

/// mg_rope_rows for heads whose rotary pairs are adjacent (llama.cpp's `llama` layout, how GGUF
/// stores q/k): pair i is (x[2i], x[2i+1]) instead of (x[i], x[i + d/2]), same arithmetic, so a head
/// permuted by GGUF's row order gives exactly the permuted result of mg_rope_rows.
void mg_rope_rows_adjacent(float *x, size_t rows, size_t heads, size_t head_dim, const float *cos_table,
                           const float *sin_table);

#endif
