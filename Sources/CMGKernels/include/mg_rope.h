#ifndef MG_ROPE_H
#define MG_ROPE_H
#include "mg_common.h"

/// Rotary-embedding tables in the Hugging Face float32 recipe: inv_freq[i] = 1 / theta^(2i/d)
/// (exponent computed as float32 (2i)/d, power correctly rounded), angle = (float)pos · inv_freq[i]
/// rounded to float32, then cos/sin of that float32 angle. `cos_out`/`sin_out` are [count, d/2].
void mg_rope_table(const int64_t *positions, size_t count, size_t head_dim, float theta, float *inv_freq,
                   float *cos_out, float *sin_out);

/// Rotate-half RoPE for rows [row_begin, row_end) of `x` viewed as [rows, d] where row r belongs to
/// position index r % seq_len of the [seq_len, d/2] tables:
/// y1 = x1·cos − x2·sin, y2 = x2·cos + x1·sin (x1, x2 the two halves). `y` may equal `x`.
void mg_rope_apply(const float *x, float *y, size_t head_dim, size_t seq_len, const float *cos_table,
                   const float *sin_table, size_t row_begin, size_t row_end);

#endif
