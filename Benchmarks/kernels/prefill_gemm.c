// Kernel-only timing of the packed BF16 prefill products (mg_bf16_pack_x + mg_bf16_gemm_passes, and
// the fused gated-MLP front half mg_bf16_gated) at the active tier, with the output columns split
// over `threads` threads the way MGTensor's Parallel.forEachChunk splits them (four contiguous
// ranges of 32-column blocks per thread). Reports process CPU time per thread (the machine is usually shared),
// GFLOP/s against it, the % of the tier's vdpbf16ps peak measured in the same run, and the largest
// relative error of 256 sampled outputs against a double-precision product of the same operands.
// A benchmark, not a test. Build and run from the package root:
//   clang -O2 -march=x86-64-v2 -ISources/CMGKernels/include Benchmarks/kernels/prefill_gemm.c \
//     Sources/CMGKernels/gemm_bf16_avx512.c Sources/CMGKernels/gemm_bf16_amx.c \
//     Sources/CMGKernels/gemm_bf16_amx_gated.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/peak.c \
//     Sources/CMGKernels/pointwise*.c -lpthread -lm -o /tmp/prefill_gemm
//   /tmp/prefill_gemm linear 600 2048 2048 1 2     # kind rows k n passes threads [repeats]
//   /tmp/prefill_gemm gated 600 2048 16384 1 2     # gate/up products (n = inner) + activation
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "mg_cpu_tier.h"
#include "mg_gemm_amx.h"
#include "mg_gemm_bf16.h"
#include "mg_pointwise.h"

typedef struct {
    int gated, passes, tier;
    const uint16_t *packed, *w, *w2;
    uint16_t *out;
    float *y;
    size_t rows, k, n, begin, end;
    int status;
} job;

// A thread's range in four calls, as Parallel.forEachChunk hands out four chunks per worker.
static void *run(void *p) {
    job *j = p;
    for (int c = 0; c < 4 && j->status == 0; c++) {
        size_t begin = j->begin + (j->end - j->begin) * c / 4, end = j->begin + (j->end - j->begin) * (c + 1) / 4;
        if (j->gated)
            j->status = mg_bf16_gated(j->tier, j->packed, j->rows, j->k, j->w, j->w2, j->n, begin, end, j->passes,
                                      MG_ACT_GELU_TANH, j->out, j->passes);
        else
            j->status = mg_bf16_gemm_passes(j->tier, j->packed, j->rows, j->k, j->w, j->n, begin, end, j->y, j->n,
                                            0, j->passes);
    }
    return 0;
}

static double cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static double wall(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static float bf16_to_float(uint16_t v) {
    uint32_t bits = (uint32_t)v << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t random_bf16(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    float f = ((float)(*state >> 40) / (float)(1u << 24) - 0.5f) * 0.2f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return (uint16_t)(bits >> 16);
}

static double peak_flop[8];
static void *peak_run(void *p) {
    peak_flop[(size_t)p] = mg_peak_bf16_dot(mg_kernel_tier(), 20000000);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s linear|gated rows k n passes threads [repeats]\n", argv[0]);
        return 2;
    }
    int gated = strcmp(argv[1], "gated") == 0;
    size_t rows = strtoul(argv[2], 0, 10), k = strtoul(argv[3], 0, 10), n = strtoul(argv[4], 0, 10);
    int passes = atoi(argv[5]), threads = atoi(argv[6]), repeats = argc > 7 ? atoi(argv[7]) : 5;
    int tier = mg_kernel_tier();
    if (!mg_bf16_tier_supported(tier)) {
        fprintf(stderr, "no packed BF16 kernel at tier %d\n", tier);
        return 1;
    }
    uint64_t state = 12345;
    float *x = malloc(rows * k * sizeof(float));
    for (size_t i = 0; i < rows * k; i++) x[i] = bf16_to_float(random_bf16(&state)) * 10.0f + 1e-3f * (float)(i % 7);
    uint16_t *w = malloc(n * k * 2), *w2 = gated ? malloc(n * k * 2) : 0;
    for (size_t i = 0; i < n * k; i++) w[i] = random_bf16(&state);
    if (gated)
        for (size_t i = 0; i < n * k; i++) w2[i] = random_bf16(&state);
    size_t blocks_x = (rows + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;
    uint16_t *packed = aligned_alloc(64, mg_amx_packed_x_count(rows, k) * 2);
    float *y = gated ? 0 : aligned_alloc(64, rows * n * sizeof(float));
    uint16_t *out = gated ? aligned_alloc(64, mg_amx_packed_x_count(rows, n) * 2) : 0;
    size_t column_blocks = (n + MG_AMX_BLOCK - 1) / MG_AMX_BLOCK;

    // Peak on `threads` threads at once, process CPU time.
    pthread_t peak_threads[8];
    double c0 = cpu();
    for (int t = 0; t < threads; t++) pthread_create(&peak_threads[t], 0, peak_run, (void *)(size_t)t);
    double peak_total = 0;
    for (int t = 0; t < threads; t++) pthread_join(peak_threads[t], 0), peak_total += peak_flop[t];
    double peak = peak_total / (cpu() - c0) / 1e9 * threads;

    double best_cpu = 1e30, best_wall = 1e30, pack_cpu = 0;
    for (int r = 0; r < repeats + 1; r++) {
        double cs = cpu(), ws = wall();
        mg_bf16_pack_x(tier, x, k, rows, k, 0, blocks_x, packed, passes);
        double cp = cpu();
        job jobs[8];
        pthread_t handles[8];
        for (int t = 0; t < threads; t++) {
            size_t begin = column_blocks * t / threads, end = column_blocks * (t + 1) / threads;
            jobs[t] = (job){gated, passes, tier, packed, w, w2, out, y, rows, k, n, begin, end, 0};
            if (t > 0) pthread_create(&handles[t], 0, run, &jobs[t]);
        }
        run(&jobs[0]);
        for (int t = 1; t < threads; t++) pthread_join(handles[t], 0);
        for (int t = 0; t < threads; t++)
            if (jobs[t].status != 0) {
                fprintf(stderr, "kernel declined\n");
                return 1;
            }
        double ce = cpu(), we = wall();
        if (r == 0) continue;
        double c = (ce - cs) / threads;
        if (c < best_cpu) best_cpu = c, pack_cpu = cp - cs, best_wall = we - ws;
    }
    double flop = 2.0 * rows * k * n * (gated ? 2 : 1) * passes;
    double rate = flop / best_cpu / 1e9;
    // Accuracy: sampled outputs against double sums of the same operands (bf16-rounded x for passes 1).
    double worst = 0;
    if (!gated) {
        for (int s = 0; s < 256; s++) {
            size_t i = (size_t)s * 7919 % rows, j = (size_t)s * 104729 % n;
            double sum = 0, scale = 0;
            for (size_t e = 0; e < k; e++) {
                float xv = x[i * k + e];
                if (passes == 1) {
                    uint32_t bits;
                    memcpy(&bits, &xv, 4);
                    bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
                    memcpy(&xv, &bits, 4);
                }
                double term = (double)xv * bf16_to_float(w[j * k + e]);
                sum += term;
                scale += fabs(term);
            }
            double error = fabs(sum - y[i * n + j]) / (scale > 0 ? scale : 1);
            if (error > worst) worst = error;
        }
    }
    printf("%s %zux%zux%zu passes %d threads %d: %.2f ms CPU/thread (wall %.2f, pack %.2f ms CPU), %.1f GFLOP/s, "
           "%.1f%% of peak %.1f, max rel err %.2e\n",
           gated ? "gated" : "linear", rows, k, n, passes, threads, best_cpu * 1e3, best_wall * 1e3, pack_cpu * 1e3,
           rate, 100 * rate / peak, peak, worst);
    return 0;
}
