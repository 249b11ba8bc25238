// Decode GEMV of the quantized formats, one thread: the multi-row tiles (mg_qd_gemv) against the
// one-row tiles they replace (qd_tile_<tier> called per row, the previous decode path), and a
// plain read of the same bytes (mg_qd_read_bytes). Weights rotate through >= 512 MiB of copies so
// every call reads from memory. Thread CPU time and wall time, GB/s of weight bytes, median of the
// runs. Also checks that both paths give bit-identical outputs. A benchmark, not a test. From the
// package root:
//   clang -O2 -ISources/CMGKernels/include -ISources/CMGKernels Benchmarks/kernels/quant_decode_rows.c \
//     Sources/CMGKernels/quant_dot*.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/gemm_bf16_amx.c Sources/CMGKernels/pointwise*.c \
//     -lm -lpthread -o /tmp/quant_decode_rows
//   MG_MAX_ISA=avx2 /tmp/quant_decode_rows      # any tier cap; argument 0: the bit-identity checks only
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mg_pointwise.h"
#include "mg_quant_dot.h"
#include "quant_dot_internal.h"
#include "harness_clock.h"

typedef struct { const char *name; uint32_t format; size_t rows, cols; } shape;

static size_t block_bytes(uint32_t f) { return f == QD_Q8_0 ? 34 : f == QD_Q4_0 ? 18 : f == QD_Q4_K ? 144 : 210; }

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

/// Bit identity of mg_qd_gemv with the one-row tile for every row count 1–13 from three start rows
/// (the rows left over after whole passes go one at a time; at avx512VNNI the Q4_K kernel then
/// fills its four-row tables with copies of that row), per format and for widths with and without a
/// partial group of eight blocks. Returns the mismatch count (a +1e-3 on one-row passes gave 280).
static int check_row_counts(qd_tile_fn tile) {
    const uint32_t formats[] = {QD_Q4_0, QD_Q8_0, QD_Q4_K, QD_Q6_K};
    const size_t widths[] = {256, 2048, 4096, 10752, 11008};
    unsigned seed = 7;
    int bad = 0, checks = 0;
    for (size_t fi = 0; fi < 4; fi++) {
        for (size_t wi = 0; wi < 5; wi++) {
            const uint32_t f = formats[fi];
            const size_t n = widths[wi], rows = 13;
            if (n % qd_block_size(f)) continue;
            const size_t row_bytes = n / qd_block_size(f) * block_bytes(f);
            uint8_t *w = malloc(row_bytes * rows);
            fill(w, row_bytes * rows / block_bytes(f), f, &seed);
            float *x = malloc(n * sizeof(float));
            for (size_t i = 0; i < n; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 700.0f;
            const size_t xa_bytes = mg_qd_activation_row_bytes(f, n);
            uint8_t *xa = malloc(xa_bytes);
            mg_qd_quantize_activation(f, x, n, 1, n, xa, xa_bytes);
            float y0[13], y1[13];
            for (size_t r = 0; r < rows; r++) tile(f, w + r * row_bytes, (const uint8_t *const *)&xa, 1, n, 0, n / qd_block_size(f), y0 + r);
            for (size_t lo = 0; lo < 3; lo++) {
                for (size_t hi = lo + 1; hi <= rows; hi++, checks++) {
                    mg_qd_gemv(-1, f, w, row_bytes, lo, hi, xa, n, NULL, y1);
                    if (memcmp(y0 + lo, y1, (hi - lo) * sizeof(float)) != 0) bad++;
                }
            }
            free(w); free(x); free(xa);
        }
    }
    printf("row counts 1-13: %d checks, %d not bit-identical to the one-row tile\n", checks, bad);
    return bad;
}

/// Bit identity of mg_qd_gemv_gated with act(mg_qd_gemv(gate)) · mg_qd_gemv(up) over row ranges
/// that cross its passes of 4096 rows, per format and activation kind. Returns the mismatch count.
static int check_gated(void) {
    const uint32_t formats[] = {QD_Q4_0, QD_Q8_0, QD_Q4_K, QD_Q6_K};
    const size_t n = 256, rows = 9000;
    const size_t ranges[][2] = {{0, 13}, {3, 300}, {0, 4096}, {1, 4097}, {5, 8199}, {0, 9000}};
    unsigned seed = 11;
    int bad = 0, checks = 0;
    for (size_t fi = 0; fi < 4; fi++) {
        const uint32_t f = formats[fi];
        const size_t row_bytes = n / qd_block_size(f) * block_bytes(f);
        uint8_t *gate = malloc(row_bytes * rows), *up = malloc(row_bytes * rows);
        fill(gate, row_bytes * rows / block_bytes(f), f, &seed);
        fill(up, row_bytes * rows / block_bytes(f), f, &seed);
        float x[256];
        for (size_t i = 0; i < n; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 700.0f;
        const size_t xa_bytes = mg_qd_activation_row_bytes(f, n);
        uint8_t *xa = malloc(xa_bytes);
        mg_qd_quantize_activation(f, x, n, 1, n, xa, xa_bytes);
        float *g = malloc(rows * sizeof(float)), *u = malloc(rows * sizeof(float)), *y = malloc(rows * sizeof(float));
        for (int kind = MG_ACT_GELU_ERF; kind <= MG_ACT_SILU; kind++) {
            for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++, checks++) {
                const size_t lo = ranges[k][0], hi = ranges[k][1];
                mg_qd_gemv(-1, f, gate, row_bytes, lo, hi, xa, n, NULL, g);
                mg_qd_gemv(-1, f, up, row_bytes, lo, hi, xa, n, NULL, u);
                mg_gated_activation((mg_activation_kind)kind, g, u, g, hi - lo);
                mg_qd_gemv_gated(-1, f, gate, up, row_bytes, lo, hi, xa, n, kind, y);
                if (memcmp(g, y, (hi - lo) * sizeof(float)) != 0) bad++;
            }
        }
        free(gate); free(up); free(xa); free(g); free(u); free(y);
    }
    printf("gated rows: %d checks, %d not bit-identical to the two products and the activation\n", checks, bad);
    return bad;
}

int main(int argc, char **argv) {
    const int runs = argc > 1 ? atoi(argv[1]) : 15;
    const shape shapes[] = {
        {"llama q/o Q4_K", QD_Q4_K, 4096, 4096},   {"llama gate Q4_K", QD_Q4_K, 11008, 4096},
        {"llama down Q4_K", QD_Q4_K, 4096, 11008}, {"llama down Q6_K", QD_Q6_K, 4096, 11008},
        {"llama v Q6_K", QD_Q6_K, 4096, 4096},     {"llama gate Q8_0", QD_Q8_0, 11008, 4096},
        {"llama down Q8_0", QD_Q8_0, 4096, 11008}, {"llama gate Q4_0", QD_Q4_0, 11008, 4096},
        {"llama down Q4_0", QD_Q4_0, 4096, 11008}, {"gemma gate Q4_K", QD_Q4_K, 16384, 2048},
        {"gemma down Q4_K", QD_Q4_K, 2048, 16384}, {"gemma down Q6_K", QD_Q6_K, 2048, 16384},
        {"gemma q Q4_K", QD_Q4_K, 2048, 2048},     {"gemma gate Q8_0", QD_Q8_0, 16384, 2048},
        {"gemma down Q8_0", QD_Q8_0, 2048, 16384}, {"gemma gate Q4_0", QD_Q4_0, 16384, 2048},
    };
    const int tier = mg_qd_selected_tier();
    qd_tile_fn tile = tier == MG_QD_AVX512_VNNI ? qd_tile_avx512vnni : tier == MG_QD_AVX_VNNI ? qd_tile_avxvnni
                    : tier == MG_QD_AVX2 ? qd_tile_avx2 : qd_tile_scalar;
    check_row_counts(tile);
    check_gated();
    if (runs == 0) return 0;  // checks only
    printf("tier %d, %d runs, GB/s (thread CPU / wall), median\n", tier, runs);
    printf("| shape | MB | one-row tiles | multi-row | read | multi-row / read (CPU) | identical |\n|---|---|---|---|---|---|---|\n");
    unsigned seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape sh = shapes[s];
        const size_t bs = qd_block_size(sh.format), row_bytes = sh.cols / bs * block_bytes(sh.format);
        const size_t bytes = row_bytes * sh.rows;
        const size_t copies = (512u << 20) / bytes + 1;
        uint8_t *w = aligned_alloc(64, (bytes * copies + 63) & ~(size_t)63);
        for (size_t c = 0; c < copies; c++) fill(w + c * bytes, bytes / block_bytes(sh.format), sh.format, &seed);
        float *x = malloc(sh.cols * sizeof(float));
        for (size_t i = 0; i < sh.cols; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 1000.0f;
        const size_t xa_bytes = mg_qd_activation_row_bytes(sh.format, sh.cols);
        uint8_t *xa = aligned_alloc(64, xa_bytes);
        mg_qd_quantize_activation(sh.format, x, sh.cols, 1, sh.cols, xa, xa_bytes);
        float *y0 = malloc(sh.rows * sizeof(float)), *y1 = malloc(sh.rows * sizeof(float));
        double t_cpu[3][64], t_wall[3][64];
        size_t c = 0;
        volatile uint64_t sink = 0;
        for (int run = 0; run < runs && run < 64; run++) {
            for (int k = 0; k < 3; k++) {
                const uint8_t *wc = w + (c++ % copies) * bytes;
                double cpu = now(CLOCK_THREAD_CPUTIME_ID), wall = now(CLOCK_MONOTONIC);
                if (k == 0) {
                    for (size_t r = 0; r < sh.rows; r++) tile(sh.format, wc + r * row_bytes, (const uint8_t *const *)&xa, 1, sh.cols, 0, sh.cols / bs, y0 + r);
                } else if (k == 1) {
                    mg_qd_gemv(-1, sh.format, wc, row_bytes, 0, sh.rows, xa, sh.cols, NULL, y1);
                } else {
                    sink += mg_qd_read_bytes(wc, bytes);
                }
                t_cpu[k][run] = now(CLOCK_THREAD_CPUTIME_ID) - cpu;
                t_wall[k][run] = now(CLOCK_MONOTONIC) - wall;
            }
        }
        // Same weights for the bit-identity check.
        for (size_t r = 0; r < sh.rows; r++) tile(sh.format, w + r * row_bytes, (const uint8_t *const *)&xa, 1, sh.cols, 0, sh.cols / bs, y0 + r);
        mg_qd_gemv(-1, sh.format, w, row_bytes, 0, sh.rows, xa, sh.cols, NULL, y1);
        const int same = memcmp(y0, y1, sh.rows * sizeof(float)) == 0;
        double gbs[3][2];
        const int n = runs < 64 ? runs : 64;
        for (int k = 0; k < 3; k++) {
            qsort(t_cpu[k], n, sizeof(double), compare_doubles);
            qsort(t_wall[k], n, sizeof(double), compare_doubles);
            gbs[k][0] = bytes / t_cpu[k][n / 2] / 1e9;
            gbs[k][1] = bytes / t_wall[k][n / 2] / 1e9;
        }
        printf("| %s | %.1f | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.0f %% | %s |\n", sh.name, bytes / 1e6, gbs[0][0], gbs[0][1],
               gbs[1][0], gbs[1][1], gbs[2][0], gbs[2][1], 100 * gbs[1][0] / gbs[2][0], same ? "yes" : "NO");
        fflush(stdout);
        free(w); free(x); free(xa); free(y0); free(y1);
    }
    return 0;
}
