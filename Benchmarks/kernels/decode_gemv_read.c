// Decode GEMV against a plain read of the same weights, kernel only, in one process: a 1×K by
// N×K BF16 product (mg_gemv_bf16, rows split over T threads) alternating with mg_read_bytes over
// the same bytes, best of R rounds each, wall time. Shapes: the Gemma-2B vocabulary projection
// (256000×2048, 1 GB) and one MLP up projection (16384×2048, 64 MB), or N K from the command line.
// A benchmark, not a test. Build and run from the package root:
//   clang -O2 -ISources/CMGKernels/include Benchmarks/kernels/decode_gemv_read.c Sources/CMGKernels/gemv.c \
//     Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/peak.c Sources/CMGKernels/gemm_bf16_amx.c \
//     -lpthread -lm -o /tmp/decode_gemv_read
//   /tmp/decode_gemv_read [N K [threads [rounds]]]
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "mg_gemv.h"
#include "mg_cpu_tier.h"

typedef struct { const uint16_t *w; const float *x; float *y; size_t cols, lo, hi; int kind; double cpu; } job;

static double thread_cpu(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void *run(void *p) {
    job *j = p;
    double start = thread_cpu();
    if (j->kind == 0) {
        volatile uint64_t sink = mg_read_bytes(j->w + j->lo * j->cols, (j->hi - j->lo) * j->cols * 2);
        (void)sink;
    } else {
        mg_gemv_bf16(j->w + j->lo * j->cols, j->x, 0, j->y + j->lo, j->hi - j->lo, j->cols);
    }
    j->cpu = thread_cpu() - start;
    return 0;
}

static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

// Wall seconds of one pass; *cpu receives the longest thread's CPU seconds (robust to other jobs
// taking the cores, not to their memory traffic).
static double pass(const uint16_t *w, const float *x, float *y, size_t rows, size_t cols, int threads, int kind,
                   double *cpu) {
    job jobs[16];
    pthread_t ids[16];
    size_t share = (rows / threads + 7) / 8 * 8;
    for (int t = 0; t < threads; t++) {
        size_t lo = share * (size_t)t, hi = t == threads - 1 ? rows : share * (size_t)(t + 1);
        jobs[t] = (job){w, x, y, cols, lo < rows ? lo : rows, hi < rows ? hi : rows, kind};
    }
    double start = wall();
    for (int t = 1; t < threads; t++) pthread_create(&ids[t], 0, run, &jobs[t]);
    run(&jobs[0]);
    for (int t = 1; t < threads; t++) pthread_join(ids[t], 0);
    double elapsed = wall() - start;
    *cpu = 0;
    for (int t = 0; t < threads; t++) if (jobs[t].cpu > *cpu) *cpu = jobs[t].cpu;
    return elapsed;
}

static void measure(size_t rows, size_t cols, int threads, int rounds) {
    size_t n = rows * cols;
    uint16_t *w = aligned_alloc(64, (n * 2 + 63) / 64 * 64);
    float *x = aligned_alloc(64, (cols * 4 + 63) / 64 * 64), *y = aligned_alloc(64, (rows * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) w[i] = (uint16_t)(0x3c00 + (i * 2654435761u >> 22 & 0xff) - 0x80);
    for (size_t i = 0; i < cols; i++) x[i] = (float)(i % 97) / 97 - 0.5f;
    double best_read = 1e9, best_gemv = 1e9, cpu_read = 1e9, cpu_gemv = 1e9, c;
    for (int r = 0; r < rounds; r++) {
        double a = pass(w, x, y, rows, cols, threads, 0, &c);
        if (c < cpu_read) cpu_read = c;
        double b = pass(w, x, y, rows, cols, threads, 1, &c);
        if (c < cpu_gemv) cpu_gemv = c;
        if (a < best_read) best_read = a;
        if (b < best_gemv) best_gemv = b;
    }
    double gb = n * 2 / 1e9;
    printf("%zux%zu (%.3f GB), %d threads: wall: read %.1f GB/s, gemv %.1f GB/s = %.1f%%; "
           "CPU: read %.1f GB/s, gemv %.1f GB/s = %.1f%% of the read\n",
           rows, cols, gb, threads, gb / best_read, gb / best_gemv, 100 * best_read / best_gemv, gb / cpu_read,
           gb / cpu_gemv, 100 * cpu_read / cpu_gemv);
    free(w), free(x), free(y);
}

int main(int argc, char **argv) {
    int threads = argc > 3 ? atoi(argv[3]) : 2, rounds = argc > 4 ? atoi(argv[4]) : 7;
    printf("tier %s\n", mg_kernel_tier_name(mg_kernel_tier()));
    if (argc > 2) {
        measure((size_t)atoll(argv[1]), (size_t)atoll(argv[2]), threads, rounds);
        return 0;
    }
    measure(256000, 2048, threads, rounds);
    measure(16384, 2048, threads, rounds);
    measure(2048, 16384, threads, rounds);
    return 0;
}
