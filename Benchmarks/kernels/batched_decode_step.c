// Kernel-only estimate of one MGM-2B (Gemma-2B) decode step for B sequences: the seven projections
// of 18 layers (q, k, v, o, gate, up, down) and the tied 256000 x 2048 vocabulary projection in
// BF16, rows split over two threads, as B separate single-row GEMVs (mg_gemv_bf16) versus one
// batched product (mg_gemv_bf16_batch). Attention, norms and sampling are not included (the
// server's /health counters give the whole step). Prints wall and process CPU time, best of 3.
// A benchmark, not a test; it needs about 1.3 GB of memory. Build and run from the package root:
//   clang -O2 -ISources/CMGKernels/include Benchmarks/kernels/batched_decode_step.c \
//     Sources/CMGKernels/gemv_batched.c Sources/CMGKernels/gemv.c Sources/CMGKernels/cpu_tier.c \
//     Sources/CMGKernels/gemm_bf16_amx.c -lpthread -lm -o /tmp/batched_decode_step
//   MG_MAX_ISA=avx512 /tmp/batched_decode_step      # any tier cap
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include "mg_gemv_batched.h"
#include "mg_gemv.h"
#include "mg_cpu_tier.h"
typedef struct { const uint16_t *w; const float *x; float *y; size_t rows, cols, batch, lo, hi; int kind; } job;
static void *run(void *p) {
  job *j = p;
  for (size_t r = j->lo; r < j->hi; r += 1024) {
    size_t n = j->hi - r < 1024 ? j->hi - r : 1024;
    if (j->kind == 0) for (size_t b = 0; b < j->batch; b++) mg_gemv_bf16(j->w + r * j->cols, j->x + b * j->cols, 0, j->y + b * j->rows + r, n, j->cols);
    else mg_gemv_bf16_batch(j->w + r * j->cols, j->x, 0, j->y + r, j->rows, n, j->cols, j->batch);
  }
  return 0;
}
static void product(const uint16_t *w, const float *x, float *y, size_t rows, size_t cols, size_t batch, int kind) {
  job a = {w, x, y, rows, cols, batch, 0, rows / 2, kind}, b = a;
  b.lo = rows / 2; b.hi = rows;
  pthread_t t; pthread_create(&t, 0, run, &b); run(&a); pthread_join(t, 0);
}
static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
  size_t shapes[][2] = {{2048, 2048}, {256, 2048}, {256, 2048}, {2048, 2048}, {16384, 2048}, {16384, 2048}, {2048, 16384}};
  uint16_t *layer[7]; size_t total = 0;
  for (int m = 0; m < 7; m++) { size_t n = shapes[m][0] * shapes[m][1]; layer[m] = malloc(n * 2); for (size_t i = 0; i < n; i++) layer[m][i] = 0x3c00 + (i * 2654435761u >> 22 & 0xff) - 0x80; total += n; }
  size_t vocab = 256000; uint16_t *head = malloc(vocab * 2048 * 2); for (size_t i = 0; i < vocab * 2048; i++) head[i] = 0x3c00 + (i * 2654435761u >> 22 & 0xff) - 0x80;
  float *x = malloc(8 * 16384 * 4), *y = malloc(8 * vocab * 4);
  for (size_t i = 0; i < 8 * 16384; i++) x[i] = (float)(i % 97) / 97 - 0.5f;
  printf("tier %s; weights per step %.2f GB\n", mg_kernel_tier_name(mg_kernel_tier()), (18.0 * total + vocab * 2048.0) * 2 / 1e9);
  const char *names[] = {"B separate single-row GEMVs", "batched kernel"};
  double base_wall = 0, base_cpu = 0;
  for (int kind = 0; kind < 2; kind++) for (size_t batch = 1; batch <= 8; batch *= 2) {
    if (batch == 2) continue;
    if (kind > 0 && batch == 1) continue;
    double best_w = 1e9, best_c = 1e9;
    for (int rep = 0; rep < 3; rep++) {
      double w0 = wall(), c0 = cpu();
      for (int l = 0; l < 18; l++) for (int m = 0; m < 7; m++) product(layer[m], x, y, shapes[m][0], shapes[m][1], batch, kind);
      product(head, x, y, vocab, 2048, batch, kind);
      double dw = wall() - w0, dc = cpu() - c0;
      if (dw < best_w) best_w = dw; if (dc < best_c) best_c = dc;
    }
    if (kind == 0 && batch == 1) { base_wall = best_w; base_cpu = best_c; }
    printf("%-28s B=%zu: step %.0f ms wall (%.2fx one row), %.0f ms CPU (%.2fx one row)\n", names[kind], batch, best_w * 1e3,
           batch * base_wall / best_w, best_c * 1e3, batch * base_cpu / best_c);
  }
}
