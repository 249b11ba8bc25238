// Compute cost of the decode GEMV with the weights in cache (one thread, thread CPU time, best of
// 7 × 100 calls): how many weight bytes per second the multi-row kernels (mg_qd_gemv) can decode
// when memory is not the limit, next to a plain read of the same cached bytes. A decode step is
// memory-bound only while this rate stays well above one core's share of the memory bandwidth
// (~18–20 GB/s per core on the 2-core Zen 4 machine); at 22 GB/s (Q4_0, Q4_K in session 8) the
// kernels ran at 75–85 % of the read rate. The checksum column lets two builds be compared for
// identical results. A benchmark, not a test. From the package root:
//   clang -O2 -ISources/CMGKernels/include -ISources/CMGKernels Benchmarks/kernels/quant_decode_compute.c \
//     Sources/CMGKernels/quant_dot*.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/gemm_bf16_amx.c Sources/CMGKernels/pointwise*.c \
//     -lm -lpthread -o /tmp/quant_decode_compute
//   MG_MAX_ISA=avx2 /tmp/quant_decode_compute      # any tier cap
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mg_quant_dot.h"
#include "quant_dot_internal.h"
static double tcpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static size_t block_bytes(uint32_t f) { return f == QD_Q8_0 ? 34 : f == QD_Q4_0 ? 18 : f == QD_Q4_K ? 144 : 210; }
int main(void) {
    struct { const char *name; uint32_t f; size_t rows, cols; } sh[] = {{"Q4_0 4096", QD_Q4_0, 256, 4096}, {"Q4_0 11008", QD_Q4_0, 96, 11008},
        {"Q8_0 4096", QD_Q8_0, 128, 4096}, {"Q4_K 4096", QD_Q4_K, 256, 4096}, {"Q4_K 11008", QD_Q4_K, 96, 11008}, {"Q6_K 11008", QD_Q6_K, 64, 11008}};
    unsigned seed = 1;
    for (int s = 0; s < 6; s++) {
        size_t rb = sh[s].cols / qd_block_size(sh[s].f) * block_bytes(sh[s].f), bytes = rb * sh[s].rows;
        uint8_t *w = aligned_alloc(64, bytes + 64);
        for (size_t i = 0; i < bytes; i++) w[i] = (uint8_t)(rand_r(&seed) >> 7);
        for (size_t b = 0; b < bytes / block_bytes(sh[s].f); b++) { uint8_t *blk = w + b * block_bytes(sh[s].f); _Float16 sm = (_Float16)0.002f;
            if (sh[s].f == QD_Q6_K) memcpy(blk + 208, &sm, 2); else memcpy(blk, &sm, 2); if (sh[s].f == QD_Q4_K) memcpy(blk + 2, &sm, 2); }
        float *x = malloc(sh[s].cols * 4); for (size_t i = 0; i < sh[s].cols; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 1000.0f;
        size_t xab = mg_qd_activation_row_bytes(sh[s].f, sh[s].cols); uint8_t *xa = aligned_alloc(64, xab);
        mg_qd_quantize_activation(sh[s].f, x, sh[s].cols, 1, sh[s].cols, xa, xab);
        float *y = malloc(sh[s].rows * 4); double best = 1e9, bestr = 1e9; volatile uint64_t sink = 0;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = tcpu(); for (int k = 0; k < 100; k++) mg_qd_gemv(-1, sh[s].f, w, rb, 0, sh[s].rows, xa, sh[s].cols, NULL, y);
            double t = tcpu() - t0; if (t < best) best = t;
            t0 = tcpu(); for (int k = 0; k < 100; k++) sink += mg_qd_read_bytes(w, bytes); t = tcpu() - t0; if (t < bestr) bestr = t;
        }
        printf("%-12s %5.2f MB  gemv %6.1f GB/s  read %6.1f GB/s  checksum %.6g\n", sh[s].name, bytes / 1e6, 100 * bytes / best / 1e9, 100 * bytes / bestr / 1e9, (double)y[0] + y[sh[s].rows - 1]);
    }
    return 0;
}
