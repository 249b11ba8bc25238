#ifndef MG_LAYOUT_H
#define MG_LAYOUT_H
#include "mg_common.h"

/// Transposes `batch` row-major rows×cols matrices of `elem_size`-byte elements (1, 2, 4 or 8):
/// dst[b][c][r] = src[b][r][c]. Only source columns (destination rows) [col_begin, col_end) of
/// every matrix are handled, so callers can split the work.
void mg_transpose(const void *src, void *dst, size_t batch, size_t rows, size_t cols, size_t elem_size,
                  size_t col_begin, size_t col_end);

/// Strided gather for a permuted copy: destination elements [begin, end) of a dense tensor of
/// `rank` dims `shape` (rank <= 8) are read from `src` at sum(index[i]·strides[i]) elements.
void mg_permute_copy(const void *src, void *dst, size_t elem_size, size_t rank, const size_t *shape,
                     const size_t *strides, size_t begin, size_t end);

#endif
