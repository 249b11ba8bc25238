// Byte-exact layout copies (permutes and transposes) for any element size.
#include "mg_layout.h"
#include <string.h>

// 32×32 tiles measured fastest for both NCHW→NHWC and back.
enum { TILE = 32 };

// Each call owns a range of source columns, i.e. whole destination rows, so parallel calls never
// write to the same cache line. Within it, a 32-column strip walks down all source rows.
#define DEFINE_TRANSPOSE(NAME, T)                                                                     \
    MG_MULTIVERSION                                                                                   \
    static void NAME(const T *src, T *dst, size_t batch, size_t rows, size_t cols, size_t c0,         \
                     size_t c1) {                                                                     \
        for (size_t b = 0; b < batch; b++) {                                                          \
            const T *s = src + b * rows * cols;                                                       \
            T *d = dst + b * rows * cols;                                                             \
            for (size_t ct = c0; ct < c1; ct += TILE) {                                               \
                const size_t ce = ct + TILE < c1 ? ct + TILE : c1;                                    \
                for (size_t rt = 0; rt < rows; rt += TILE) {                                          \
                    const size_t re = rt + TILE < rows ? rt + TILE : rows;                            \
                    for (size_t c = ct; c < ce; c++) {                                                \
                        T *restrict out = d + c * rows;                                               \
                        const T *restrict in = s + c;                                                 \
                        for (size_t r = rt; r < re; r++) out[r] = in[r * cols];                       \
                    }                                                                                 \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
    }

DEFINE_TRANSPOSE(transpose8, uint8_t)
DEFINE_TRANSPOSE(transpose16, uint16_t)
DEFINE_TRANSPOSE(transpose32, uint32_t)
DEFINE_TRANSPOSE(transpose64, uint64_t)

void mg_transpose(const void *src, void *dst, size_t batch, size_t rows, size_t cols, size_t elem_size,
                  size_t col_begin, size_t col_end) {
    switch (elem_size) {
    case 1: transpose8(src, dst, batch, rows, cols, col_begin, col_end); break;
    case 2: transpose16(src, dst, batch, rows, cols, col_begin, col_end); break;
    case 4: transpose32(src, dst, batch, rows, cols, col_begin, col_end); break;
    default: transpose64(src, dst, batch, rows, cols, col_begin, col_end); break;
    }
}

#define DEFINE_GATHER(NAME, T)                                                                        \
    MG_MULTIVERSION                                                                                   \
    static void NAME(const T *restrict src, T *restrict dst, size_t n, size_t stride) {              \
        for (size_t i = 0; i < n; i++) dst[i] = src[i * stride];                                      \
    }

DEFINE_GATHER(gather8, uint8_t)
DEFINE_GATHER(gather16, uint16_t)
DEFINE_GATHER(gather32, uint32_t)
DEFINE_GATHER(gather64, uint64_t)

void mg_permute_copy(const void *src, void *dst, size_t elem_size, size_t rank, const size_t *shape,
                     const size_t *strides, size_t begin, size_t end) {
    if (begin >= end || rank == 0 || rank > 8) return;
    size_t index[8];
    size_t rest = begin;
    for (size_t axis = rank; axis-- > 0;) {
        index[axis] = rest % shape[axis];
        rest /= shape[axis];
    }
    const size_t inner = shape[rank - 1], inner_stride = strides[rank - 1];
    const uint8_t *base = src;
    uint8_t *out = (uint8_t *)dst + begin * elem_size;
    size_t position = begin;
    while (position < end) {
        size_t offset = 0;
        for (size_t axis = 0; axis < rank; axis++) offset += index[axis] * strides[axis];
        size_t run = inner - index[rank - 1];
        if (run > end - position) run = end - position;
        const uint8_t *from = base + offset * elem_size;
        if (inner_stride == 1) {
            memcpy(out, from, run * elem_size);
        } else {
            switch (elem_size) {
            case 1: gather8(from, out, run, inner_stride); break;
            case 2: gather16((const uint16_t *)from, (uint16_t *)out, run, inner_stride); break;
            case 4: gather32((const uint32_t *)from, (uint32_t *)out, run, inner_stride); break;
            default: gather64((const uint64_t *)from, (uint64_t *)out, run, inner_stride); break;
            }
        }
        out += run * elem_size;
        position += run;
        index[rank - 1] += run;
        for (size_t axis = rank - 1; axis > 0 && index[axis] >= shape[axis]; axis--) {
            index[axis] = 0;
            index[axis - 1] += 1;
        }
    }
}
