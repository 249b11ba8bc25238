#ifndef MG_REDUCE_H
#define MG_REDUCE_H
#include "mg_common.h"

/// Index of the maximum of each of `rows` contiguous rows of length `n` (n >= 1), as torch.argmax:
/// the first maximal index wins ties, and NaN counts as larger than every number (the first NaN wins).
void mg_argmax_rows(const float *x, size_t rows, size_t n, int64_t *indices);

/// argmax over the middle axis of [outer, n, inner] (n >= 1), same rules as mg_argmax_rows, for
/// outer indices [outer_begin, outer_end); indices[o·inner + j] receives the result.
void mg_argmax_strided(const float *x, size_t n, size_t inner, size_t outer_begin, size_t outer_end,
                       int64_t *indices);

/// The `k` largest of the `n` values `x[i·stride]` (1 <= k <= n), written to values/indices in
/// descending order. NaN ranks above every number; equal values are ordered by lower index first.
/// Runs in O(n log k): a k-element heap of the best values seen so far.
void mg_topk(const float *x, size_t n, size_t stride, size_t k, float *values, int64_t *indices);

#endif
