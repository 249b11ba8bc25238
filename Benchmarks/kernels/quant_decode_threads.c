// Quantized decode GEMV on T threads (default 2) against a plain read of the same weights, C only:
// for each format and Llama-7B shape (q/o 4096×4096, gate/up 11008×4096 and the fused gate/up pass,
// down 4096×11008, lm_head 32000×4096), rows split over the threads as Parallel.forEachChunk does
// (four chunks per thread, taken in turn), weights rotating through ≥ 512 MiB of copies so every
// pass reads memory, each pass alternating with a T-thread read of the same bytes (mg_qd_read_bytes
// per chunk, as the whole-model bench's read; READ4=1: four lockstep scalar streams per chunk).
// GB/s of weight bytes as the best wall time of R rounds and as the median of the threads' mean CPU
// time (on a shared machine a pass where another process held a core is slow on the wall clock);
// "in cache" is one thread over a ~1 MB slice (thread CPU, best of 5 × 50), the compute ceiling.
// The checksum compares builds. A benchmark, not a test. From the package root:
//   clang -O2 -ISources/CMGKernels/include -ISources/CMGKernels Benchmarks/kernels/quant_decode_threads.c \
//     Sources/CMGKernels/quant_dot*.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/gemm_bf16_amx.c \
//     Sources/CMGKernels/pointwise*.c -lm -lpthread -o /tmp/quant_decode_threads
//   /tmp/quant_decode_threads [rounds [threads [formats, e.g. Q4_0,Q4_K]]]     MG_MAX_ISA=avx2 for a tier cap
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mg_quant_dot.h"
#include "quant_dot_internal.h"
#include "harness_clock.h"
#include "harness_pool.h"

static size_t block_bytes(uint32_t f) { return f == QD_Q8_0 ? 34 : f == QD_Q4_0 ? 18 : f == QD_Q4_K ? 144 : 210; }

// ---- a spinning pool: the caller is thread 0 -----------------------------------------------------
enum { KIND_GEMV, KIND_GATED, KIND_READ };
typedef struct {
    int kind;
    uint32_t format;
    const uint8_t *w, *w2;
    size_t row_bytes, rows, cols;
    const uint8_t *xa;
    float *y;
} task;
static task current;
static atomic_int next_chunk;
static _Atomic double cpu_seconds;  // summed over the threads of one pass
enum { CHUNKS_PER_THREAD = 4 };

static uint64_t read_four_streams(const uint8_t *p, size_t bytes) {
    const uint64_t *words = (const uint64_t *)p;
    const size_t quarter = bytes / 64 / 4;
    uint64_t sum = 0;
    for (size_t line = 0; line < quarter; line++)
        for (size_t s = 0; s < 4; s++)
            for (size_t k = 0; k < 8; k++) sum += words[(s * quarter + line) * 8 + k];
    return sum;
}

static void do_work(void) {
    const task t = current;
    const int chunks = thread_count * CHUNKS_PER_THREAD;
    const size_t size = (t.rows + chunks - 1) / chunks;
    volatile uint64_t sink = 0;
    const double start = now(CLOCK_THREAD_CPUTIME_ID);
    for (;;) {
        const int c = atomic_fetch_add(&next_chunk, 1);
        if (c >= chunks) break;
        const size_t lo = (size_t)c * size, hi = lo + size < t.rows ? lo + size : t.rows;
        if (lo >= hi) continue;
        if (t.kind == KIND_READ) {
            sink += !getenv("READ4") ? mg_qd_read_bytes(t.w + lo * t.row_bytes, (hi - lo) * t.row_bytes)
                                    : read_four_streams(t.w + lo * t.row_bytes, (hi - lo) * t.row_bytes);
        } else if (t.kind == KIND_GATED) {
            mg_qd_gemv_gated(-1, t.format, t.w, t.w2, t.row_bytes, lo, hi, t.xa, t.cols, 0, t.y + lo);
        } else {
            mg_qd_gemv(-1, t.format, t.w, t.row_bytes, lo, hi, t.xa, t.cols, NULL, t.y + lo);
        }
    }
    const double spent = now(CLOCK_THREAD_CPUTIME_ID) - start;
    double seen = atomic_load(&cpu_seconds);
    while (!atomic_compare_exchange_weak(&cpu_seconds, &seen, seen + spent)) {}
}

static double run_pass(task t, double *cpu) {
    current = t;
    atomic_store(&cpu_seconds, 0.0);
    atomic_store(&next_chunk, 0);
    const double wall = pool_run();
    if (cpu) *cpu = atomic_load(&cpu_seconds) / thread_count;
    return wall;
}

static void fill(uint8_t *w, size_t blocks, uint32_t f, unsigned *seed) {
    const size_t bb = block_bytes(f);
    for (size_t i = 0; i < blocks * bb; i++) w[i] = (uint8_t)(rand_r(seed) >> 7);
    const _Float16 small = (_Float16)0.002f;
    for (size_t b = 0; b < blocks; b++) {
        uint8_t *block = w + b * bb;
        if (f == QD_Q6_K) memcpy(block + 208, &small, 2);
        else memcpy(block, &small, 2);
        if (f == QD_Q4_K) memcpy(block + 2, &small, 2);
    }
}

typedef struct { const char *name; size_t rows, cols; int gated; } shape;

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 11;
    pool_start(argc > 2 ? atoi(argv[2]) : 2);
    const char *filter = argc > 3 ? argv[3] : NULL;
    const struct { const char *name; uint32_t f; } formats[] = {{"Q8_0", QD_Q8_0}, {"Q4_0", QD_Q4_0}, {"Q4_K", QD_Q4_K}, {"Q6_K", QD_Q6_K}};
    const shape shapes[] = {{"4096x4096", 4096, 4096, 0}, {"11008x4096", 11008, 4096, 0}, {"gate+up 2x11008x4096", 11008, 4096, 1},
                            {"4096x11008", 4096, 11008, 0}, {"32000x4096", 32000, 4096, 0}};
    printf("tier %d, %d threads, %d rounds, GB/s of weight bytes: best wall / median of the mean thread CPU time; in-cache: one thread, thread CPU, best\n",
           mg_qd_selected_tier(), thread_count, rounds);
    printf("| type | shape | MB | products in cache (1 thread) | products (wall / CPU) | read (wall / CPU) | products / read (wall / CPU) | checksum |\n|---|---|---|---|---|---|---|---|\n");
    unsigned seed = 1;
    for (size_t fi = 0; fi < sizeof formats / sizeof formats[0]; fi++) {
        if (filter && !strstr(filter, formats[fi].name)) continue;
        const uint32_t f = formats[fi].f;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const shape sh = shapes[s];
            const size_t row_bytes = sh.cols / qd_block_size(f) * block_bytes(f), bytes = row_bytes * sh.rows;
            const size_t matrices = sh.gated ? 2 : 1, copies = (512u << 20) / (bytes * matrices) + 2;
            uint8_t *w = aligned_alloc(64, (bytes * matrices * copies + 63) & ~(size_t)63);
            fill(w, bytes * matrices / block_bytes(f), f, &seed);
            for (size_t c = 1; c < copies; c++) memcpy(w + c * bytes * matrices, w, bytes * matrices);
            float *x = malloc(sh.cols * sizeof(float));
            for (size_t i = 0; i < sh.cols; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 1000.0f;
            const size_t xa_bytes = mg_qd_activation_row_bytes(f, sh.cols);
            uint8_t *xa = aligned_alloc(64, (xa_bytes + 63) & ~(size_t)63);
            mg_qd_quantize_activation(f, x, sh.cols, 1, sh.cols, xa, xa_bytes);
            float *y = malloc(sh.rows * sizeof(float));
            double tp[64], tr[64], cp[64], cr[64];
            size_t c = 0;
            const int n = rounds < 64 ? rounds : 64;
            for (int r = 0; r < n; r++) {
                const uint8_t *wc = w + (c++ % copies) * bytes * matrices;
                task t = {sh.gated ? KIND_GATED : KIND_GEMV, f, wc, wc + bytes, row_bytes, sh.rows, sh.cols, xa, y};
                tp[r] = run_pass(t, &cp[r]);
                wc = w + (c++ % copies) * bytes * matrices;
                task rd = {KIND_READ, f, wc, NULL, row_bytes, sh.rows * matrices, sh.cols, NULL, NULL};
                tr[r] = run_pass(rd, &cr[r]);
            }
            qsort(tp, n, sizeof(double), compare_doubles);
            qsort(tr, n, sizeof(double), compare_doubles);
            qsort(cp, n, sizeof(double), compare_doubles);
            qsort(cr, n, sizeof(double), compare_doubles);
            // Compute ceiling: one thread over a slice that stays in L2.
            size_t slice_rows = (1u << 20) / row_bytes;
            if (slice_rows > sh.rows) slice_rows = sh.rows;
            double best = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                const double t0 = now(CLOCK_THREAD_CPUTIME_ID);
                for (int k = 0; k < 50; k++) {
                    if (sh.gated) mg_qd_gemv_gated(-1, f, w, w + bytes, row_bytes, 0, slice_rows / 2, xa, sh.cols, 0, y);
                    else mg_qd_gemv(-1, f, w, row_bytes, 0, slice_rows, xa, sh.cols, NULL, y);
                }
                const double t1 = now(CLOCK_THREAD_CPUTIME_ID) - t0;
                if (t1 < best) best = t1;
            }
            const double slice_bytes = (double)(sh.gated ? slice_rows / 2 * 2 : slice_rows) * row_bytes;
            // Checksum on the first copy for build-to-build identity.
            task t = {sh.gated ? KIND_GATED : KIND_GEMV, f, w, w + bytes, row_bytes, sh.rows, sh.cols, xa, y};
            run_pass(t, NULL);
            double sum = 0;
            for (size_t i = 0; i < sh.rows; i++) sum += y[i] * (double)(i % 7 + 1);
            const double total = (double)(bytes * matrices);
            const double gp = total / tp[0] / 1e9, gr = total / tr[0] / 1e9;
            const double cgp = total / cp[n / 2] / 1e9, cgr = total / cr[n / 2] / 1e9;
            printf("| %s | %s | %.1f | %.1f | %.1f / %.1f | %.1f / %.1f | %.0f %% / %.0f %% | %.9g |\n", formats[fi].name, sh.name,
                   total / 1e6, 50 * slice_bytes / best / 1e9, gp, cgp, gr, cgr, 100 * gp / gr, 100 * cgp / cgr, sum);
            fflush(stdout);
            free(w); free(x); free(xa); free(y);
        }
    }
    pool_stop();
    return 0;
}
