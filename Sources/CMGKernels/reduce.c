// argmax and top-k. argmax finds the maximum with vectorised lanes, then scans for its first index;
// top-k keeps a heap whose root is the worst kept element, so most candidates cost one comparison.
#include "mg_reduce.h"
#include "pointwise_math.h"

MG_MULTIVERSION
static int64_t argmax_row(const float *x, size_t n) {
    const float maximum = mg_row_max(x, n);
    const int has_nan = maximum != maximum;
    if (has_nan) {
        for (size_t i = 0; i < n; i++)
            if (x[i] != x[i]) return (int64_t)i;
    }
    for (size_t i = 0; i < n; i++)
        if (x[i] == maximum) return (int64_t)i;
    return 0; // every element is -inf: the first one
}

void mg_argmax_rows(const float *x, size_t rows, size_t n, int64_t *indices) {
    for (size_t r = 0; r < rows; r++) indices[r] = argmax_row(x + r * n, n);
}

enum { ARGMAX_BLOCK = 256 };

MG_MULTIVERSION
void mg_argmax_strided(const float *x, size_t n, size_t inner, size_t outer_begin, size_t outer_end,
                       int64_t *indices) {
    for (size_t o = outer_begin; o < outer_end; o++) {
        for (size_t j0 = 0; j0 < inner; j0 += ARGMAX_BLOCK) {
            const size_t w = inner - j0 < ARGMAX_BLOCK ? inner - j0 : ARGMAX_BLOCK;
            const float *base = x + o * n * inner + j0;
            float best[ARGMAX_BLOCK];
            int64_t where[ARGMAX_BLOCK];
            for (size_t j = 0; j < w; j++) {
                best[j] = base[j];
                where[j] = 0;
            }
            for (size_t a = 1; a < n; a++) {
                const float *row = base + a * inner;
                for (size_t j = 0; j < w; j++) {
                    // Strictly greater keeps the first maximum; a NaN replaces any number once.
                    const int take = row[j] > best[j] || (row[j] != row[j] && best[j] == best[j]);
                    best[j] = take ? row[j] : best[j];
                    where[j] = take ? (int64_t)a : where[j];
                }
            }
            for (size_t j = 0; j < w; j++) indices[o * inner + j0 + j] = where[j];
        }
    }
}

/// Whether (av, ai) ranks before (bv, bi): NaN first, then larger values, then lower indices.
static inline int ranks_before(float av, int64_t ai, float bv, int64_t bi) {
    const int a_nan = av != av, b_nan = bv != bv;
    if (a_nan != b_nan) return a_nan;
    if (!a_nan && av != bv) return av > bv;
    return ai < bi;
}

/// Restores the heap below `slot` of a k-heap whose root is the element ranked last.
static void sift_down(float *values, int64_t *indices, size_t count, size_t slot) {
    const float v = values[slot];
    const int64_t id = indices[slot];
    for (;;) {
        size_t child = 2 * slot + 1;
        if (child >= count) break;
        if (child + 1 < count && ranks_before(values[child], indices[child], values[child + 1], indices[child + 1]))
            child++; // the worse of the two children moves up
        if (!ranks_before(v, id, values[child], indices[child])) break;
        values[slot] = values[child];
        indices[slot] = indices[child];
        slot = child;
    }
    values[slot] = v;
    indices[slot] = id;
}

void mg_topk(const float *x, size_t n, size_t stride, size_t k, float *values, int64_t *indices) {
    if (k == 0 || k > n) return;
    for (size_t i = 0; i < k; i++) {
        values[i] = x[i * stride];
        indices[i] = (int64_t)i;
    }
    for (size_t s = k / 2; s-- > 0;) sift_down(values, indices, k, s);
    for (size_t i = k; i < n; i++) {
        const float v = x[i * stride];
        // Later indices never win ties, so a candidate must be strictly better than the root.
        if (ranks_before(v, (int64_t)i, values[0], indices[0])) {
            values[0] = v;
            indices[0] = (int64_t)i;
            sift_down(values, indices, k, 0);
        }
    }
    // Heap sort: repeatedly move the worst remaining element to the back, leaving best-first order.
    for (size_t end = k; end > 1; end--) {
        const float v = values[0];
        const int64_t id = indices[0];
        values[0] = values[end - 1];
        indices[0] = indices[end - 1];
        values[end - 1] = v;
        indices[end - 1] = id;
        sift_down(values, indices, end - 1, 0);
    }
}
