// Where the host runs this VM's two vCPUs, and what it does to the memory: per round, the round trip
// of one cache line between two threads (a flag bounced PINGS times) before and after a two-thread
// plain read of a file's pages (each thread one half, as the whole-model bench's read).
//
// On the 2-vCPU Zen 4 VMs of this project a plain read of a GGUF file ran at ~31–34 or ~42–57 GB/s
// from process to process. The round trip tells the two apart: ~50–65 ns when both vCPUs sit on
// one core complex (one L3 and one link to the memory), ~320–530 ns when they sit on two CCDs
// (two links). Rounds whose two round trips disagree were moved by the host during the read;
// round trips of microseconds mean one vCPU ran both threads (another process held a core).
// Threads are not pinned unless PIN=1 (pinned to vCPUs 0 and 1 every run here met one complex).
// A benchmark, not a test. From the package root:
//   clang -O2 Benchmarks/kernels/vcpu_placement.c -lpthread -o /tmp/vcpu_placement
//   /tmp/vcpu_placement FILE [rounds]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness_clock.h"
#include "plain_read.h"

enum { PINGS = 20000, READS = 3 };
enum { IDLE, PING, READ, QUIT };

static _Alignas(64) _Atomic int flag;
static _Alignas(64) _Atomic int command, finished;
static const uint8_t *file;
static size_t file_bytes;
static volatile uint64_t sink;

static void pin(int cpu) {
    if (!getenv("PIN")) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *partner(void *unused) {
    (void)unused;
    pin(1);
    for (;;) {
        int c;
        while ((c = atomic_load(&command)) == IDLE) {
        }
        if (c == QUIT) return NULL;
        if (c == PING) {
            for (int i = 0; i < PINGS; i++) {
                while (atomic_load(&flag) != 2 * i + 1) {
                }
                atomic_store(&flag, 2 * i + 2);
            }
        } else {
            sink += plain_read(file + file_bytes / 2, file_bytes - file_bytes / 2);
        }
        atomic_store(&command, IDLE);
        atomic_store(&finished, 1);
    }
}

static void start(int c) {
    atomic_store(&finished, 0);
    atomic_store(&command, c);
}

static void wait_partner(void) {
    while (!atomic_load(&finished)) {
    }
}

/// Nanoseconds per round trip of the flag's cache line.
static double round_trip(void) {
    atomic_store(&flag, 0);
    start(PING);
    const double t = now(CLOCK_MONOTONIC);
    for (int i = 0; i < PINGS; i++) {
        atomic_store(&flag, 2 * i + 1);
        while (atomic_load(&flag) != 2 * i + 2) {
        }
    }
    const double ns = (now(CLOCK_MONOTONIC) - t) / PINGS * 1e9;
    wait_partner();
    return ns;
}

/// GB/s of the best of READS two-thread reads of the file.
static double read_rate(void) {
    double best = 1e30;
    for (int k = 0; k < READS; k++) {
        const double t = now(CLOCK_MONOTONIC);
        start(READ);
        sink += plain_read(file, file_bytes / 2);
        wait_partner();
        const double d = now(CLOCK_MONOTONIC) - t;
        if (d < best) best = d;
    }
    return (double)file_bytes / best / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [rounds]\n", argv[0]);
        return 2;
    }
    const int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 128) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    file_bytes = (size_t)st.st_size & ~(size_t)127;
    file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (file == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    const int rounds = argc > 2 ? atoi(argv[2]) : 10;
    pin(0);
    pthread_t thread;
    pthread_create(&thread, NULL, partner, NULL);
    sink += plain_read(file, file_bytes);  // first touch outside the timed reads
    printf("| round | round trip before, ns | read GB/s | round trip after, ns |\n|---|---|---|---|\n");
    for (int r = 0; r < rounds; r++) {
        const double before = round_trip(), rate = read_rate(), after = round_trip();
        printf("| %d | %.1f | %.1f | %.1f |\n", r, before, rate, after);
        fflush(stdout);
        usleep(200000);
    }
    start(QUIT);
    pthread_join(thread, NULL);
    return 0;
}
