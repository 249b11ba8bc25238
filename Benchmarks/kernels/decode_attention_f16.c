// Single-sequence decode attention over the F16 KV cache on T threads (default 2), C only, against a
// plain T-thread read of the same cache bytes: one query row per layer, Llama-7B (32 query heads on
// 32 key/value heads of 128) and Gemma-2B (8 query heads on one key/value head of 256) at 512, 2048
// and 4096 cached positions. A pass walks enough layers (each its own K and V blocks) to read
// ≥ 1.2 GB, so the cache comes from memory, not L3 (300 MB on the Emerald Rapids VM; passes of 288 MB
// and of 1.2 GB measured the same 94–101 % of a read there). The work of a layer is split as cachedAttention
// splits it: several key/value heads over the threads by head (tapered chunks starting at half of
// the heads per thread; TAPER=4: an eighth of what is left each); a single key/value head by
// positions (mg_decoder_attention_f16_part: one part per thread,
// merged by the caller), or, with SLICES=1 (and in builds before the split existed), by query-head
// slices that each read the whole cache. GB/s of cache bytes as the best wall time of R rounds and
// as the median of the threads' mean CPU time spent working (waits for the other thread excluded;
// on a shared machine a pass where another process held a core is slow on the wall clock); "in cache" is one thread on ≤ 512 KB of one head (thread CPU,
// best of 5 × 50), the compute ceiling. The checksum compares builds. The cache has 2 MB pages
// (MADV_HUGEPAGE) as the library's KV cache has them; HUGE_PAGES=0 gives 4 KB pages. LLAMA_ONLY=1
// runs the first model only. A benchmark, not a test.
// From the package root:
//   clang -O2 -ISources/CMGKernels/include -ISources/CMGKernels Benchmarks/kernels/decode_attention_f16.c \
//     Sources/CMGKernels/decoder*.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/norm.c \
//     Sources/CMGKernels/convert.c Sources/CMGKernels/gemm_bf16_amx.c -lm -lpthread -o /tmp/decode_attention_f16
//   /tmp/decode_attention_f16 [rounds [threads]]        MG_MAX_ISA=avx2|baseline for a tier cap
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include "mg_convert.h"
#include "mg_cpu_tier.h"
#include "mg_decoder.h"
#include "harness_clock.h"

typedef struct {
    const char *name;
    size_t kv_heads, group, head_dim;
} model;

// ---- one pass: `layers` layers in turn, each split over a spinning pool (the caller is thread 0) -------
enum { KIND_ATTENTION, KIND_READ };
static struct {
    int kind, slices;
    model m;
    size_t positions, layer_bytes;
    const uint16_t *cache;  // layer l: K blocks of all heads, then V blocks
    size_t layer;
    const float *q;
    float *out, *scratch[16], *parts[16];
} job;
static atomic_int generation, finished, next_chunk;
static _Atomic double cpu_seconds;
static int thread_count;
static size_t taper = 1;

__attribute__((target("avx2"))) static uint64_t read_bytes(const uint16_t *p, size_t bytes) {
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t lanes[8] = {0};
    for (size_t i = 0; i < bytes / 8; i += 8)
        for (int l = 0; l < 8; l++) lanes[l] += w[i + l];
    uint64_t s = 0;
    for (int l = 0; l < 8; l++) s += lanes[l];
    return s;
}

// Work of one thread on one layer.
static void layer_work(int thread) {
    const model m = job.m;
    const size_t d = m.head_dim, block = job.positions * d, past = job.positions - 1;
    const uint16_t *keys = job.cache + job.layer * (job.layer_bytes / 2);
    const uint16_t *values = keys + m.kv_heads * block;
    const float scale = 1.0f / sqrtf((float)d);
    if (job.kind == KIND_READ) {
        const size_t part = job.layer_bytes / thread_count / 64 * 64;
        volatile uint64_t sink = read_bytes(keys + thread * part / 2, thread == thread_count - 1 ? job.layer_bytes - thread * part : part);
        (void)sink;
        return;
    }
#ifdef MG_DECODER_MAX_PARTS
    if (job.slices == 0) {  // positions over the threads, merged by the caller
        const size_t begin = job.positions * (size_t)thread / (size_t)thread_count;
        const size_t end = job.positions * (size_t)(thread + 1) / (size_t)thread_count;
        mg_decoder_attention_f16_part(job.q, keys, values, d, m.group, begin, end, scale, job.parts[thread], job.scratch[thread]);
        return;
    }
#endif
    const size_t slices = job.slices, tasks = m.kv_heads * slices;
    // Tapered chunks as cachedAttention cuts a decode step (Parallel.forEachTaperedChunk, fraction
    // TAPER, default 1): each chunk is what is left / (TAPER · threads), at least one task.
    size_t starts[1024], chunks = 0;
    starts[0] = 0;
    while (starts[chunks] < tasks && chunks < 1023) {
        size_t size = (tasks - starts[chunks]) / (taper * (size_t)thread_count);
        starts[chunks + 1] = starts[chunks] + (size ? size : 1);
        chunks++;
    }
    for (;;) {
        const size_t c = (size_t)atomic_fetch_add(&next_chunk, 1);
        if (c >= chunks) break;
        for (size_t task = starts[c]; task < starts[c + 1]; task++) {
            const size_t head = task / slices, slice = task % slices;
            const size_t first = slice * m.group / slices, members = (slice + 1) * m.group / slices - first;
            const size_t column = (head * m.group + first) * d;
            mg_decoder_attention_f16(job.q + column, m.kv_heads * m.group * d, keys + head * block, values + head * block, d,
                                     members, 0, 0, 1, past, 0, scale, job.out + column, job.scratch[thread]);
        }
    }
}

// Thread 0 publishes layer l through `generation`; the workers run their share and count `finished`;
// thread 0 runs its own, waits, merges (position split) and goes on to the next layer.
static void *worker(void *arg) {
    const int thread = (int)(intptr_t)arg;
    int seen = 0;
    double cpu = 0;
    for (;;) {
        int g;
        while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) __builtin_ia32_pause();
        seen = g;
        if (g < 0) return NULL;
        const double start = now(CLOCK_THREAD_CPUTIME_ID);
        layer_work(thread);
        cpu = now(CLOCK_THREAD_CPUTIME_ID) - start;
        double s = atomic_load(&cpu_seconds);
        while (!atomic_compare_exchange_weak(&cpu_seconds, &s, s + cpu)) {}
        atomic_fetch_add_explicit(&finished, 1, memory_order_release);
    }
}

static double run_pass(size_t layers, double *cpu) {
    atomic_store(&cpu_seconds, 0.0);
    const double start = now(CLOCK_MONOTONIC);
    double own = 0;
    for (size_t l = 0; l < layers; l++) {
        job.layer = l;
        atomic_store(&next_chunk, 0);
        atomic_store(&finished, 0);
        atomic_fetch_add_explicit(&generation, 1, memory_order_release);
        // Thread CPU time of the work itself (not of waiting for the other threads, which a loaded
        // machine inflates), the merge included.
        double t0 = now(CLOCK_THREAD_CPUTIME_ID);
        layer_work(0);
        own += now(CLOCK_THREAD_CPUTIME_ID) - t0;
        while (atomic_load_explicit(&finished, memory_order_acquire) < thread_count - 1) __builtin_ia32_pause();
#ifdef MG_DECODER_MAX_PARTS
        t0 = now(CLOCK_THREAD_CPUTIME_ID);
        if (job.kind == KIND_ATTENTION && job.slices == 0)
            mg_decoder_attention_merge((const float *const *)job.parts, (size_t)thread_count, job.m.group, job.m.head_dim, job.out);
        own += now(CLOCK_THREAD_CPUTIME_ID) - t0;
#endif
    }
    const double wall = now(CLOCK_MONOTONIC) - start;
    if (cpu) *cpu = (atomic_load(&cpu_seconds) + own) / thread_count;
    return wall;
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 9;
    thread_count = argc > 2 ? atoi(argv[2]) : 2;
    if (getenv("TAPER") && atoi(getenv("TAPER")) > 0) taper = (size_t)atoi(getenv("TAPER"));
    if (thread_count < 1 || thread_count > 16) return 1;
    const model models[] = {{"Llama-7B 32/32x128", 32, 1, 128}, {"Gemma-2B 8/1x256", 1, 8, 256}};
    const size_t positions[] = {512, 2048, 4096};
    pthread_t threads[16];
    for (int i = 1; i < thread_count; i++) pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
    printf("tier %d, %d threads, %d rounds; GB/s of cache bytes (K and V, F16): best wall / median of the mean thread CPU time\n",
           mg_kernel_tier(), thread_count, rounds);
    printf("| model | positions | MB per pass | in cache GB/s (1 thread) | split | attention GB/s (wall / CPU) | read GB/s (wall / CPU) | attention / read (wall / CPU) | checksum |\n"
           "|---|---|---|---|---|---|---|---|---|\n");
    unsigned seed = 1;
    const size_t model_count = getenv("LLAMA_ONLY") ? 1 : 2;  // LLAMA_ONLY=1: the first model only
    for (size_t mi = 0; mi < model_count; mi++) {
        const model m = models[mi];
        for (size_t pi = 0; pi < 3; pi++) {
            const size_t p = positions[pi], d = m.head_dim;
            const size_t layer_bytes = 2 * m.kv_heads * p * d * sizeof(uint16_t);
            const size_t layers = ((size_t)1200 << 20) / layer_bytes + 1;
            const size_t elements = layers * layer_bytes / 2;
            // Huge pages as the library's KV cache has them (KVCacheStorage); HUGE_PAGES=0 for 4 KB pages.
            const size_t huge = 2u << 20, cache_bytes = (elements * 2 + huge - 1) / huge * huge;
            uint16_t *cache = aligned_alloc(huge, cache_bytes);
            if (!getenv("HUGE_PAGES") || atoi(getenv("HUGE_PAGES"))) madvise(cache, cache_bytes, MADV_HUGEPAGE);
            float *tmp = malloc(65536 * sizeof(float));
            for (size_t i = 0; i < elements; i += 65536) {
                const size_t count = elements - i < 65536 ? elements - i : 65536;
                for (size_t k = 0; k < count; k++) tmp[k] = (float)((int)(rand_r(&seed) % 3001) - 1500) / 1000.0f;
                mg_f32_to_f16(tmp, cache + i, count);
            }
            free(tmp);
            const size_t q_count = m.kv_heads * m.group * d;
            float *q = malloc(q_count * sizeof(float)), *out = malloc(q_count * sizeof(float));
            for (size_t i = 0; i < q_count; i++) q[i] = (float)((int)(rand_r(&seed) % 4001) - 2000) / 1000.0f;
            for (int t = 0; t < thread_count; t++) {
                job.scratch[t] = malloc(m.group * p * sizeof(float) + 4096);
                job.parts[t] = malloc(m.group * (d + 2) * sizeof(float));
            }
            job.m = m;
            job.positions = p;
            job.layer_bytes = layer_bytes;
            job.cache = cache;
            job.q = q;
            job.out = out;
            int split = m.kv_heads < (size_t)thread_count ? (int)(m.group < (size_t)thread_count ? m.group : (size_t)thread_count) : 1;
#ifdef MG_DECODER_MAX_PARTS
            if (m.kv_heads < (size_t)thread_count && !getenv("SLICES")) split = 0;
#endif
            job.slices = split;
            double ta[64], tr[64], ca[64], cr[64];
            const int n = rounds < 64 ? rounds : 64;
            for (int r = 0; r < n; r++) {
                job.kind = KIND_ATTENTION;
                ta[r] = run_pass(layers, &ca[r]);
                job.kind = KIND_READ;
                tr[r] = run_pass(layers, &cr[r]);
            }
            // Compute ceiling: one thread, one key/value head (all its query heads) over the first positions
            // of the first layer that fit in 512 KB of L2, thread CPU, best of 5 × 50.
            size_t hot = (getenv("HOT_KB") ? (size_t)atoi(getenv("HOT_KB")) : 512u) * 1024 / (2 * d * sizeof(uint16_t));
            if (hot > p) hot = p;
            double best = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                const double t0 = now(CLOCK_THREAD_CPUTIME_ID);
                for (int k = 0; k < 50; k++)
                    mg_decoder_attention_f16(q, m.kv_heads * m.group * d, cache, cache + m.kv_heads * p * d, d, m.group, 0, 0, 1,
                                             hot - 1, 0, 1.0f / sqrtf((float)d), out, job.scratch[0]);
                const double t1 = now(CLOCK_THREAD_CPUTIME_ID) - t0;
                if (t1 < best) best = t1;
            }
            const double hot_gbs = 50.0 * (double)(2 * hot * d * sizeof(uint16_t)) / best / 1e9;
            // Checksum: the last layer's output.
            job.kind = KIND_ATTENTION;
            run_pass(layers, NULL);
            double sum = 0;
            for (size_t i = 0; i < q_count; i++) sum += out[i] * (double)(i % 7 + 1);
            qsort(ta, n, sizeof(double), compare_doubles);
            qsort(tr, n, sizeof(double), compare_doubles);
            qsort(ca, n, sizeof(double), compare_doubles);
            qsort(cr, n, sizeof(double), compare_doubles);
            const double total = (double)(layers * layer_bytes);
            const double ga = total / ta[0] / 1e9, gr = total / tr[0] / 1e9, cga = total / ca[n / 2] / 1e9, cgr = total / cr[n / 2] / 1e9;
            printf("| %s | %zu | %.0f | %.1f | %s | %.1f / %.1f | %.1f / %.1f | %.0f %% / %.0f %% | %.9g |\n", m.name, p, total / 1e6, hot_gbs,
                   split == 0 ? "positions" : split == 1 ? "heads" : "query slices", ga, cga, gr, cgr, 100 * ga / gr, 100 * cga / cgr, sum);
            fflush(stdout);
            for (int t = 0; t < thread_count; t++) {
                free(job.scratch[t]);
                free(job.parts[t]);
            }
            free(cache); free(q); free(out);
        }
    }
    atomic_store(&generation, -1);
    for (int i = 1; i < thread_count; i++) pthread_join(threads[i], NULL);
    return 0;
}
