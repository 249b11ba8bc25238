// Decode GEMV against a plain read of the same weights, kernel only, in one process: a 1×K by
// N×K BF16 product (mg_gemv_bf16, rows split over T threads) alternating with two reads of the
// same bytes, best of R rounds each, wall time and the longest thread's CPU time: mg_read_bytes
// (one sequential stream per thread) and four lockstep streams over the quarters of each thread's
// part, as the plain read of `MGTensorBenchmarks --filter decode` (the faster of the two here). Shapes: the Gemma-2B vocabulary projection
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
    } else if (j->kind == 2) {
        const uint64_t *words = (const uint64_t *)(j->w + j->lo * j->cols);
        size_t quarter = (j->hi - j->lo) * j->cols * 2 / 64 / 4;
        uint64_t sum = 0;
        for (size_t line = 0; line < quarter; line++)
            for (size_t stream = 0; stream < 4; stream++)
                for (size_t word = 0; word < 8; word++) sum += words[(stream * quarter + line) * 8 + word];
        volatile uint64_t sink = sum;
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
    double best[3] = {1e9, 1e9, 1e9}, cpu[3] = {1e9, 1e9, 1e9}, c;
    for (int r = 0; r < rounds; r++)
        for (int kind = 0; kind < 3; kind++) {
            double elapsed = pass(w, x, y, rows, cols, threads, kind, &c);
            if (c < cpu[kind]) cpu[kind] = c;
            if (elapsed < best[kind]) best[kind] = elapsed;
        }
    double gb = n * 2 / 1e9;
    printf("%zux%zu (%.3f GB), %d threads: wall: read %.1f / 4-stream read %.1f / gemv %.1f GB/s = %.1f%% / %.1f%%; "
           "CPU: read %.1f / %.1f / gemv %.1f GB/s = %.1f%% / %.1f%%\n",
           rows, cols, gb, threads, gb / best[0], gb / best[2], gb / best[1], 100 * best[0] / best[1],
           100 * best[2] / best[1], gb / cpu[0], gb / cpu[2], gb / cpu[1], 100 * cpu[0] / cpu[1], 100 * cpu[2] / cpu[1]);
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
