// A spinning thread pool shared by the multi-threaded kernel harnesses in this folder: the caller is
// thread 0, the others spin on a generation counter, and every thread runs the harness's own
// `do_work` once per pass (claiming chunks from a counter of the harness). Include after
// harness_clock.h; define `static void do_work(void)` in the harness.
#ifndef HARNESS_POOL_H
#define HARNESS_POOL_H

#include <pthread.h>
#include <stdatomic.h>

enum { POOL_MAX_THREADS = 16 };

static atomic_int pool_generation, pool_finished;
static int thread_count;
static pthread_t pool_threads[POOL_MAX_THREADS];

static void do_work(void);

static void *pool_worker(void *arg) {
    (void)arg;
    int seen = 0;
    for (;;) {
        int g;
        while ((g = atomic_load_explicit(&pool_generation, memory_order_acquire)) == seen) __builtin_ia32_pause();
        seen = g;
        if (g < 0) return NULL;
        do_work();
        atomic_fetch_add(&pool_finished, 1);
    }
}

/// Starts `threads` − 1 helpers (at most POOL_MAX_THREADS in all).
static void pool_start(int threads) {
    thread_count = threads < 1 ? 1 : threads > POOL_MAX_THREADS ? POOL_MAX_THREADS : threads;
    for (int i = 1; i < thread_count; i++) pthread_create(&pool_threads[i], NULL, pool_worker, NULL);
}

/// One pass: every thread runs do_work once; returns its wall seconds.
static double pool_run(void) {
    atomic_store(&pool_finished, 0);
    const double start = now(CLOCK_MONOTONIC);
    atomic_fetch_add_explicit(&pool_generation, 1, memory_order_release);
    do_work();
    while (atomic_load(&pool_finished) < thread_count - 1) __builtin_ia32_pause();
    return now(CLOCK_MONOTONIC) - start;
}

static void pool_stop(void) {
    atomic_store(&pool_generation, -1);
    for (int i = 1; i < thread_count; i++) pthread_join(pool_threads[i], NULL);
}

#endif
