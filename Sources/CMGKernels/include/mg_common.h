#ifndef MG_COMMON_H
#define MG_COMMON_H
#include <stddef.h>
#include <stdint.h>

// Kernels are compiled once per instruction set and picked at load time (ifunc), so one binary
// runs on any x86-64 and still uses AVX-512 / AVX2 where the machine has them.
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__)
#define MG_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_MULTIVERSION
#endif

#endif
