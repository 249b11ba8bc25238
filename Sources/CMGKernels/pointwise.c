// Broadcasting arithmetic, scaling and nan_to_num. Each inner loop sees unit or zero strides only,
// so it is one of three simple vectorisable shapes: vector∘vector, vector∘scalar, scalar∘vector.
#include "mg_pointwise.h"

// In-place use (y == a) reads and writes the same index in one iteration, which is safe for
// vectorisation; the pragma stops the compiler from adding a runtime overlap check that would send
// that case down the scalar path.
#define DEFINE_BINARY(NAME, EXPR)                                                                   \
    MG_MULTIVERSION                                                                                 \
    static void NAME##_vv(const float *a, const float *b, float *y, size_t n) {                     \
        _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < n; i++) {             \
            const float u = a[i], v = b[i];                                                         \
            y[i] = (EXPR);                                                                          \
        }                                                                                           \
    }                                                                                               \
    MG_MULTIVERSION                                                                                 \
    static void NAME##_vs(const float *a, float v, float *y, size_t n) {                            \
        _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < n; i++) {             \
            const float u = a[i];                                                                   \
            y[i] = (EXPR);                                                                          \
        }                                                                                           \
    }                                                                                               \
    MG_MULTIVERSION                                                                                 \
    static void NAME##_sv(float u, const float *b, float *y, size_t n) {                            \
        _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < n; i++) {             \
            const float v = b[i];                                                                   \
            y[i] = (EXPR);                                                                          \
        }                                                                                           \
    }

DEFINE_BINARY(add, u + v)
DEFINE_BINARY(sub, u - v)
DEFINE_BINARY(mul, u * v)
DEFINE_BINARY(div, u / v)

/// One run of `n` outputs along the last axis, whose operand strides are each 0 or 1.
static void binary_run(mg_binary_op op, const float *a, size_t sa, const float *b, size_t sb, float *y, size_t n) {
#define DISPATCH(NAME)                                                                              \
    if (sa && sb) NAME##_vv(a, b, y, n);                                                            \
    else if (sa) NAME##_vs(a, *b, y, n);                                                            \
    else if (sb) NAME##_sv(*a, b, y, n);                                                            \
    else for (size_t i = 0; i < n; i++) NAME##_vs(a, *b, y + i, 1);
    switch (op) {
    case MG_BINARY_ADD: DISPATCH(add) break;
    case MG_BINARY_SUB: DISPATCH(sub) break;
    case MG_BINARY_MUL: DISPATCH(mul) break;
    case MG_BINARY_DIV: DISPATCH(div) break;
    }
#undef DISPATCH
}

void mg_binary_broadcast(mg_binary_op op, const float *a, const float *b, float *y, size_t rank,
                         const size_t *shape, const size_t *a_strides, const size_t *b_strides,
                         size_t begin, size_t end) {
    if (begin >= end || rank == 0 || rank > 8) return;
    size_t index[8];
    size_t rest = begin;
    for (size_t axis = rank; axis-- > 0;) {
        index[axis] = rest % shape[axis];
        rest /= shape[axis];
    }
    const size_t last = rank - 1, inner = shape[last];
    const size_t sa = a_strides[last], sb = b_strides[last];
    size_t position = begin;
    while (position < end) {
        size_t offset_a = 0, offset_b = 0;
        for (size_t axis = 0; axis < rank; axis++) {
            offset_a += index[axis] * a_strides[axis];
            offset_b += index[axis] * b_strides[axis];
        }
        size_t run = inner - index[last];
        if (run > end - position) run = end - position;
        binary_run(op, a + offset_a, sa, b + offset_b, sb, y + position, run);
        position += run;
        index[last] += run;
        for (size_t axis = last; axis > 0 && index[axis] >= shape[axis]; axis--) {
            index[axis] = 0;
            index[axis - 1] += 1;
        }
    }
}

MG_MULTIVERSION
void mg_scale(const float *x, float s, float *y, size_t n) {
    _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < n; i++) y[i] = x[i] * s;
}

MG_MULTIVERSION
void mg_nan_to_num(const float *x, float *y, size_t n, float nan, float posinf, float neginf) {
    const float inf = __builtin_inff();
    _Pragma("clang loop vectorize(assume_safety)") for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        float r = v == inf ? posinf : v;
        r = v == -inf ? neginf : r;
        y[i] = v != v ? nan : r;
    }
}
