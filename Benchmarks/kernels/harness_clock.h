// Clocks and sorting shared by the kernel harnesses in this folder (each is one C file compiled on
// its own with the CMGKernels sources, as its header comment says).
#ifndef HARNESS_CLOCK_H
#define HARNESS_CLOCK_H

#include <stdlib.h>
#include <time.h>

/// Seconds on `clock` (CLOCK_MONOTONIC for wall time, CLOCK_THREAD_CPUTIME_ID for the thread's CPU time).
static inline double now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/// qsort comparator for ascending doubles (medians and minima of timed runs).
static inline int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
