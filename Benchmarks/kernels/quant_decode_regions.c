// The GEMV regions of a Gemma-2B decode step over a mapped GGUF file, against a plain read of the
// same file in the same process (the read's rate, 31–34 or 42–57 GB/s on the 2-core Zen 4 VM,
// changes from process to process, so only figures of one process compare). Per "layer" the
// regions of the step in order — q/k/v (2560 rows × 2048), o (2048 × 2048), the fused gate/up pass
// (2 × 16384 × 2048), down (2048 × 16384) — over consecutive bytes of the file, 18 layers, then the
// Q6_K vocabulary projection (256000 × 2048), i.e. about the file's 1.5 GB. The file's bytes are
// used as they lie (the timing does not depend on the values). Rows are split over T threads
// (the caller and spinning helpers) in tapered chunks as Parallel.forEachTaperedChunk does, each
// chunk cut into row segments as mg_qd_gemv / mg_qd_gemv_gated do, with the driver's knobs
// (prefetch distance and hint, gate/up segment length, taper, minimum chunk) as run-time variants
// taken in turn round by round, so every variant meets the same memory state. A benchmark, not a
// test; outputs are not checked here (quant_decode_rows.c does that). From the package root:
//   for h in T0 T1 NTA; do clang -O2 -c -ISources/CMGKernels/include -ISources/CMGKernels \
//     -DQR_PREFETCH_HINT=_MM_HINT_$h -Dqd_gemv_rows_avx512vnni_gfni=rows_$h \
//     Sources/CMGKernels/quant_dot_avx512vnni_gfni.c -o /tmp/rows_$h.o; done
//   clang -O2 -ISources/CMGKernels/include -ISources/CMGKernels Benchmarks/kernels/quant_decode_regions.c \
//     /tmp/rows_*.o Sources/CMGKernels/quant_dot*.c Sources/CMGKernels/cpu_tier.c Sources/CMGKernels/gemm_bf16_amx.c \
//     Sources/CMGKernels/pointwise*.c -lm -lpthread -o /tmp/quant_decode_regions
//   /tmp/quant_decode_regions FILE.gguf ROUNDS FORMAT VARIANT...
// FORMAT: q4_0 or q4_k (the layer matrices; the vocabulary is Q6_K either way). VARIANT: comma-
// separated key=value (the defaults are the session-11 drivers): ahead / dahead (prefetch bytes,
// 1024; dahead for the 16384-column down rows), hint (T0, T1, NTA), gchunk (gate/up rows per
// segment pass, 256; the session-12 driver passes whole chunks, gchunk=4096), taper (chunk = rest /
// (taper · threads), 4), min (minimum chunk multiplier of the 256 KB rule, 1), gmin (gate/up
// minimum rows), even (regions of fewer than even · threads minimum chunks in equal chunks),
// swift=1 (the session-12 rule, QuantizedProducts.swift's decodeRowChunk), head=1/2 (prefetch the
// first `ahead` bytes of every stream / also of the up streams), pass / dpass (rows per pass ≤ 4),
// requant=1 (the caller rewrites each region's activation row first, as in the real step), xpre=1
// (each thread prefetches the whole activation row when a region starts), slice (the down rows in
// slices of this many columns, as gemv_rows does with 4096; 0 = whole rows), sgroup (rows per
// segment over all slices before the next rows; gemv_rows: 8), sahead (the sliced rows' prefetch
// distance in bytes; 0 = one row, gemv_rows' choice).
// Rounds are reported by memory state ("fast": the read after the step ≥ FAST GB/s, default 42).
// FAST_ONLY=GB/s exits early (status 2) when three reads stay below it; IN_CACHE=1 prints per-core
// GB/s of the rows over ~300 KB in L2 instead (one thread, thread CPU).
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xmmintrin.h>
#include "mg_quant_dot.h"
#include "mg_pointwise.h"
#include "quant_dot_internal.h"
#include "harness_clock.h"
#include "harness_pool.h"

void rows_T0(uint32_t, const uint8_t *, size_t, int, const uint8_t *, size_t, size_t, size_t, size_t, float *);
void rows_T1(uint32_t, const uint8_t *, size_t, int, const uint8_t *, size_t, size_t, size_t, size_t, float *);
void rows_NTA(uint32_t, const uint8_t *, size_t, int, const uint8_t *, size_t, size_t, size_t, size_t, float *);

typedef struct {
    char name[96];
    size_t ahead;
    qd_gemv_rows_fn rows;
    size_t gchunk;
    double taper, min, gmin;
    int pass, dpass, head, even, swift, requant, xpre;
    size_t dahead;
    size_t slice, sahead;       // down rows in column slices of `slice` columns (0: whole rows), prefetch sahead (0: one row)
    size_t sgroup;              // rows per segment that all slices pass over before the next group (0: the whole segment)
} variant;

enum { KIND_QKV, KIND_O, KIND_GATED, KIND_DOWN, KIND_VOCAB, KIND_READ, KINDS };

typedef struct {
    int kind;
    uint32_t format;
    const uint8_t *w, *w2;
    size_t row_bytes, cols;
    const uint8_t *xa;
    float *y;
    const size_t *starts;
    size_t chunks;
    const variant *v;
} region;

static region current;
static atomic_size_t next_chunk;
static _Thread_local float *scratch;  // up outputs of the gated pass

/// The first `ahead` bytes of each of `streams` segments `stride` apart, which the rows' own
/// prefetch (always `ahead` past the current block) never covers.
static void prefetch_heads(const uint8_t *base, size_t stride, int streams, size_t ahead) {
    for (int s = 0; s < streams; s++)
        for (size_t o = 0; o < ahead; o += 64) _mm_prefetch((const char *)(base + (size_t)s * stride + o), _MM_HINT_T0);
}

static void rows_driver(const variant *v, uint32_t f, const uint8_t *w, size_t row_bytes, size_t r0, size_t r1,
                        const uint8_t *xa, size_t n, float *y) {
    const int down = n > 4096;
    const size_t count = r1 - r0, per = (size_t)(down ? v->dpass : v->pass), segment = count / per;
    const size_t ahead = down ? v->dahead : v->ahead;
    const uint8_t *base = w + r0 * row_bytes;
    if (v->head) prefetch_heads(base, segment * row_bytes, (int)per, ahead);
    float out[8];
    const size_t block = qd_block_size(f), nb = n / block;
    const size_t slice = down && v->slice > 0 ? v->slice / block : nb, group = slice < nb && v->sgroup ? v->sgroup : segment;
    const size_t step_ahead = slice < nb ? (v->sahead ? v->sahead : row_bytes) : ahead;
    for (size_t k0 = 0; k0 < segment; k0 += group) {
        const size_t k1 = k0 + group < segment ? k0 + group : segment;
        for (size_t b0 = 0; b0 < nb; b0 += slice) {
            const size_t b1 = b0 + slice < nb ? b0 + slice : nb;
            for (size_t k = k0; k < k1; k++) {
                v->rows(f, base + k * row_bytes, segment * row_bytes, (int)per, xa, n, b0, b1, step_ahead, out);
                for (size_t i = 0; i < per; i++) y[i * segment + k] = b0 ? y[i * segment + k] + out[i] : out[i];
            }
        }
    }
    for (size_t r = segment * per; r < count; r++) v->rows(f, base + r * row_bytes, row_bytes, 1, xa, n, 0, nb, ahead, y + r);
}

static void do_work(void) {
    const region t = current;
    if (!scratch) scratch = aligned_alloc(64, 65536 * sizeof(float));
    volatile uint64_t sink = 0;
    if (t.v->xpre && t.xa) {  // the whole activation row at once, before the first chunk
        const size_t bytes = mg_qd_activation_row_bytes(t.format, t.cols);
        for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)(t.xa + o), _MM_HINT_T0);
    }
    for (;;) {
        const size_t c = atomic_fetch_add(&next_chunk, 1);
        if (c >= t.chunks) break;
        const size_t lo = t.starts[c], hi = t.starts[c + 1];
        if (t.kind == KIND_READ) {
            sink += mg_qd_read_bytes(t.w + lo, hi - lo);
        } else if (t.kind == KIND_GATED) {
            for (size_t r0 = lo; r0 < hi; r0 += t.v->gchunk) {
                const size_t r1 = r0 + t.v->gchunk < hi ? r0 + t.v->gchunk : hi;
                if (t.v->head > 1) prefetch_heads(t.w2 + r0 * t.row_bytes, (r1 - r0) / 4 * t.row_bytes, 4, t.v->ahead);
                rows_driver(t.v, t.format, t.w, t.row_bytes, r0, r1, t.xa, t.cols, t.y + r0);
                rows_driver(t.v, t.format, t.w2, t.row_bytes, r0, r1, t.xa, t.cols, scratch);
                mg_gated_activation(MG_ACT_GELU_TANH, t.y + r0, scratch, t.y + r0, r1 - r0);
            }
        } else {
            rows_driver(t.v, t.format, t.w, t.row_bytes, lo, hi, t.xa, t.cols, t.y + lo);
        }
    }
}

static double run_region(region t) {
    current = t;
    atomic_store(&next_chunk, 0);
    return pool_run();
}

/// Parallel.forEachTaperedChunk's boundaries (taper 4 = a quarter of the rest per worker); with
/// `even` > 0, a region of fewer than even · threads minimum chunks is cut into threads · k equal chunks.
static size_t tapered_even(size_t count, size_t minimum, double taper, int even, size_t *starts) {
    size_t k = 0;
    if (even > 0 && count < (size_t)even * thread_count * minimum) {
        size_t per = count / ((size_t)thread_count * minimum);
        const size_t chunks = (size_t)thread_count * (per > 0 ? per : 1);
        for (size_t c = 0; c <= chunks; c++) starts[c] = count * c / chunks;
        return chunks;
    }
    starts[k++] = 0;
    while (starts[k - 1] < count) {
        const size_t s = starts[k - 1], step = (size_t)((double)(count - s) / (taper * thread_count));
        starts[k] = s + (step > minimum ? step : minimum);
        if (starts[k] > count) starts[k] = count;
        k++;
    }
    return k - 1;
}

/// QuantizedProducts.swift's decodeRowChunk: ≥ 1 MB chunks, equal chunks (one to four per
/// thread, ≥ 256 KB) for a region of fewer than eight per thread.
static size_t decode_row_chunk(size_t row_bytes, size_t rows) {
    size_t minimum = (1u << 20) / row_bytes;
    if (minimum < 4) minimum = 4;
    const size_t workers = (size_t)thread_count;
    if (rows >= 8 * workers * minimum) return minimum;
    size_t per = rows / (workers * minimum);
    per = per < 1 ? 1 : per > 4 ? 4 : per;
    const size_t chunk = (rows + workers * per - 1) / (workers * per), floor = (1u << 18) / row_bytes;
    return chunk > floor ? chunk : floor > 4 ? floor : 4;
}

static size_t minimum_row_chunk(size_t row_bytes) {
    const size_t m = (1u << 18) / row_bytes;
    return m > 4 ? m : 4;
}

static void parse(variant *v, const char *text) {
    snprintf(v->name, sizeof v->name, "%s", text);
    v->ahead = 1024;
    v->rows = rows_T0;
    v->gchunk = 256;
    v->taper = 4;
    v->min = 1;
    v->gmin = 0;
    v->pass = 4;
    v->dpass = 4;
    v->head = 0;
    v->even = 0;
    v->swift = 0;
    v->requant = 0;
    v->xpre = 0;
    v->dahead = 1024;
    v->slice = v->sahead = v->sgroup = 0;
    char buffer[96];
    snprintf(buffer, sizeof buffer, "%s", text);
    for (char *item = strtok(buffer, ","); item; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        if (!eq) continue;
        *eq = 0;
        const char *value = eq + 1;
        if (!strcmp(item, "ahead")) v->ahead = (size_t)atol(value);
        else if (!strcmp(item, "hint")) v->rows = !strcmp(value, "T1") ? rows_T1 : !strcmp(value, "NTA") ? rows_NTA : rows_T0;
        else if (!strcmp(item, "gchunk")) v->gchunk = (size_t)atol(value);
        else if (!strcmp(item, "taper")) v->taper = atof(value);
        else if (!strcmp(item, "min")) v->min = atof(value);
        else if (!strcmp(item, "gmin")) v->gmin = atof(value);
        else if (!strcmp(item, "pass")) v->pass = atoi(value);
        else if (!strcmp(item, "dpass")) v->dpass = atoi(value);
        else if (!strcmp(item, "head")) v->head = atoi(value);
        else if (!strcmp(item, "even")) v->even = atoi(value);
        else if (!strcmp(item, "swift")) v->swift = atoi(value);
        else if (!strcmp(item, "requant")) v->requant = atoi(value);
        else if (!strcmp(item, "xpre")) v->xpre = atoi(value);
        else if (!strcmp(item, "dahead")) v->dahead = (size_t)atol(value);
        else if (!strcmp(item, "slice")) v->slice = (size_t)atol(value);
        else if (!strcmp(item, "sahead")) v->sahead = (size_t)atol(value);
        else if (!strcmp(item, "sgroup")) v->sgroup = (size_t)atol(value);
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s FILE ROUNDS q4_0|q4_k VARIANT...\n", argv[0]);
        return 1;
    }
    const int fd = open(argv[1], O_RDONLY);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) return 1;
    const size_t size = (size_t)info.st_size & ~(size_t)63;
    const uint8_t *file = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    if (file == MAP_FAILED) return 1;
    const int rounds = atoi(argv[2]);
    const uint32_t f = !strcmp(argv[3], "q4_k") ? QD_Q4_K : QD_Q4_0;
    const int variants = argc - 4;
    variant v[16];
    for (int i = 0; i < variants && i < 16; i++) parse(&v[i], argv[4 + i]);
    pool_start(getenv("THREADS") ? atoi(getenv("THREADS")) : 2);

    const size_t hidden = 2048, inter = 16384, vocab = 256000, layers = 18;
    const size_t narrow = hidden / 256 * 144, wide = inter / 256 * 144;  // Q4_0 and Q4_K: 4.5 bits per weight
    const size_t vocab_row = hidden / 256 * 210;
    uint8_t *xa_narrow = aligned_alloc(64, 65536), *xa_wide = aligned_alloc(64, 65536), *xa_q6 = aligned_alloc(64, 65536);
    float *x = malloc(inter * sizeof(float));
    unsigned seed = 1;
    for (size_t i = 0; i < inter; i++) x[i] = (float)((int)(rand_r(&seed) % 2001) - 1000) / 1000.0f;
    mg_qd_quantize_activation(f, x, hidden, 1, hidden, xa_narrow, mg_qd_activation_row_bytes(f, hidden));
    mg_qd_quantize_activation(f, x, inter, 1, inter, xa_wide, mg_qd_activation_row_bytes(f, inter));
    mg_qd_quantize_activation(QD_Q6_K, x, hidden, 1, hidden, xa_q6, mg_qd_activation_row_bytes(QD_Q6_K, hidden));
    float *y = aligned_alloc(64, vocab * sizeof(float));
    size_t *starts = malloc(70000 * sizeof(size_t));

    // Per round: one step per variant, each followed by a read of the file.
    static double step[16][64], readt[16][64], kind_time[16][64][KINDS];
    const size_t read_chunk = 8u << 20, read_chunks = (size_t)((size + read_chunk - 1) / read_chunk);
    // The whole-model bench's read: 8 MiB pieces in forEachChunk's four ranges per thread.
    size_t read_starts[512], read_parts = 0;
    {
        const size_t parts = read_chunks < (size_t)thread_count * 4 ? read_chunks : (size_t)thread_count * 4;
        const size_t per = (read_chunks + parts - 1) / parts;
        for (size_t c = 0; c < read_chunks; c += per) read_starts[read_parts++] = c * read_chunk;
        read_starts[read_parts] = size;
    }
    const int n = rounds < 64 ? rounds : 64;
    if (getenv("IN_CACHE")) {  // one thread, ~300 KB of rows decoded 200 times (in L2): thread CPU GB/s per core
        struct { const char *name; uint32_t f; size_t rows, row_bytes, cols; const uint8_t *xa; } cases[3] = {
            {"2048 columns", f, 256, narrow, hidden, xa_narrow}, {"16384 columns", f, 32, wide, inter, xa_wide},
            {"Q6_K 2048 columns", QD_Q6_K, 176, vocab_row, hidden, xa_q6}};
        for (int vi = 0; vi < variants; vi++) {
            printf("%s:", v[vi].name);
            for (int c = 0; c < 3; c++) {
                double best = 1e9;
                for (int rep = 0; rep < 5; rep++) {
                    const double t0 = now(CLOCK_THREAD_CPUTIME_ID);
                    for (int k = 0; k < 200; k++) rows_driver(&v[vi], cases[c].f, file, cases[c].row_bytes, 0, cases[c].rows, cases[c].xa, cases[c].cols, y);
                    const double t = now(CLOCK_THREAD_CPUTIME_ID) - t0;
                    if (t < best) best = t;
                }
                printf(" %s %.1f GB/s", cases[c].name, 200.0 * cases[c].rows * cases[c].row_bytes / best / 1e9);
            }
            printf("\n");
        }
        return 0;
    }
    if (getenv("FAST_ONLY")) {  // skip a process in the slow memory state: three reads, best below the threshold
        double best = 1e9;
        for (int i = 0; i < 3; i++) {
            region rd = {KIND_READ, 0, file, NULL, 0, 0, NULL, NULL, read_starts, read_parts, &v[0]};
            const double t = run_region(rd);
            if (t < best) best = t;
        }
        if (size / best / 1e9 < atof(getenv("FAST_ONLY"))) {
            printf("slow state: read %.1f GB/s\n", size / best / 1e9);
            pool_stop();
            return 2;
        }
    }
    for (int round = 0; round < n; round++) {
        for (int vi = 0; vi < variants; vi++) {
            const variant *var = &v[vi];
            double kinds[KINDS] = {0};
            const uint8_t *p = file;
            const double start = now(CLOCK_MONOTONIC);
            for (size_t layer = 0; layer < layers; layer++) {
                struct { int kind; size_t rows, row_bytes, cols, matrices; const uint8_t *xa; } parts[4] = {
                    {KIND_QKV, 2560, narrow, hidden, 1, xa_narrow}, {KIND_O, hidden, narrow, hidden, 1, xa_narrow},
                    {KIND_GATED, inter, narrow, hidden, 2, xa_narrow}, {KIND_DOWN, hidden, wide, inter, 1, xa_wide}};
                for (int i = 0; i < 4; i++) {
                    // requant=1: the calling thread writes the activation row before each region, as
                    // the real step does (the helper then reads it from the caller's cache).
                    if (var->requant) mg_qd_quantize_activation(f, x, parts[i].cols, 1, parts[i].cols, (uint8_t *)parts[i].xa,
                                                                mg_qd_activation_row_bytes(f, parts[i].cols));
                    size_t minimum = (size_t)(minimum_row_chunk(parts[i].row_bytes) * var->min);
                    if (parts[i].kind == KIND_GATED) minimum = var->gmin > 0 ? (size_t)var->gmin : minimum / 2 > 64 ? minimum / 2 : 64;
                    if (var->swift) {
                        minimum = decode_row_chunk(parts[i].row_bytes * parts[i].matrices, parts[i].rows);
                        if (parts[i].kind == KIND_GATED && minimum < 64) minimum = 64;
                    }
                    region r = {parts[i].kind, f, p, p + parts[i].rows * parts[i].row_bytes, parts[i].row_bytes, parts[i].cols,
                                parts[i].xa, y, starts, 0, var};
                    r.chunks = tapered_even(parts[i].rows, minimum, var->taper, var->even, starts);
                    kinds[parts[i].kind] += run_region(r);
                    p += parts[i].rows * parts[i].row_bytes * parts[i].matrices;
                }
            }
            region r = {KIND_VOCAB, QD_Q6_K, p, NULL, vocab_row, hidden, xa_q6, y, starts, 0, var};
            if (p + vocab * vocab_row > file + size) r.w = file;
            r.chunks = tapered_even(vocab, var->swift ? decode_row_chunk(vocab_row, vocab) : (size_t)(minimum_row_chunk(vocab_row) * var->min),
                                    var->taper, var->even, starts);
            kinds[KIND_VOCAB] += run_region(r);
            step[vi][round] = now(CLOCK_MONOTONIC) - start;
            region rd = {KIND_READ, 0, file, NULL, 0, 0, NULL, NULL, read_starts, read_parts, var};
            readt[vi][round] = run_region(rd);
            for (int k = 0; k < KINDS; k++) kind_time[vi][round][k] = kinds[k];
        }
    }
    // Bytes per kind in one step.
    double bytes[KINDS] = {0};
    bytes[KIND_QKV] = layers * 2560.0 * narrow;
    bytes[KIND_O] = layers * (double)hidden * narrow;
    bytes[KIND_GATED] = layers * 2.0 * inter * narrow;
    bytes[KIND_DOWN] = layers * (double)hidden * wide;
    bytes[KIND_VOCAB] = (double)vocab * vocab_row;
    double all = 0;
    for (int k = 0; k < KIND_READ; k++) all += bytes[k];
    printf("file %.0f MB, step %.0f MB, format %s, %d threads, %d rounds, medians (GB/s)\n", size / 1e6, all / 1e6, argv[3],
           thread_count, n);
    // Rounds are classed by the read that follows each step (the state can change within a process).
    const double fast = getenv("FAST") ? atof(getenv("FAST")) : 42;
    printf("| variant | state (rounds) | read | step (%% of read) | qkv | o | gate/up | down | vocab Q6_K |\n|---|---|---|---|---|---|---|---|---|\n");
    for (int state = 1; state >= 0; state--) {
        for (int vi = 0; vi < variants; vi++) {
            double s[64], rd[64], kt[KINDS][64];
            int m = 0;
            for (int r = 0; r < n; r++) {
                if ((size / readt[vi][r] / 1e9 >= fast) != state) continue;
                s[m] = step[vi][r];
                rd[m] = readt[vi][r];
                for (int k = 0; k < KINDS; k++) kt[k][m] = kind_time[vi][r][k];
                m++;
            }
            if (m == 0) continue;
            qsort(s, m, sizeof(double), compare_doubles);
            qsort(rd, m, sizeof(double), compare_doubles);
            for (int k = 0; k < KINDS; k++) qsort(kt[k], m, sizeof(double), compare_doubles);
            const double read_rate = size / rd[m / 2] / 1e9;
            printf("| %s | %s (%d) | %.1f | %.1f (%.0f %%) |", v[vi].name, state ? "fast" : "slow", m, read_rate, all / s[m / 2] / 1e9,
                   100 * all / s[m / 2] / 1e9 / read_rate);
            for (int k = 0; k < KIND_READ; k++) printf(" %.1f (%.0f %%) |", bytes[k] / kt[k][m / 2] / 1e9, 100 * bytes[k] / kt[k][m / 2] / 1e9 / read_rate);
            printf("\n");
        }
    }
    pool_stop();
    return 0;
}
