// The plain read the decode benchmarks compare against, outside the library: eight 64-bit lane sums
// over 64-byte lines, as mg_qd_read_bytes. Written with vector types because clang turns the scalar
// form into gathers at -march=znver4 (8x slower). Used by vcpu_placement.c and, built as a small
// shared library, by Tools/bench/gguf_model_bench.py in llama.cpp's process.
#ifndef PLAIN_READ_H
#define PLAIN_READ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t plain_read_lanes __attribute__((vector_size(64)));

/// Sum of the 64-bit words of the whole 64-byte lines in p[0 ..< n].
static inline uint64_t plain_read(const uint8_t *p, size_t n) {
    plain_read_lanes sum = {0};
    for (size_t i = 0; i + 64 <= n; i += 64) {
        plain_read_lanes words;
        memcpy(&words, p + i, 64);
        sum += words;
    }
    uint64_t total = 0;
    for (int l = 0; l < 8; l++) total += sum[l];
    return total;
}

#endif
