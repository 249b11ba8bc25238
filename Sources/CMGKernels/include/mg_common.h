#ifndef MG_COMMON_H
#define MG_COMMON_H
#include <stddef.h>
#include <stdint.h>

// Kernels are compiled once per instruction set and picked at load time (ifunc), so one binary
// runs on any x86-64 and still uses AVX-512 / AVX2 where the machine has them.
// ThreadSanitizer instruments the ifunc resolvers, which the dynamic loader runs before the
// sanitizer's runtime is set up (a crash at start-up): TSan builds keep the baseline code only.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MG_NO_MULTIVERSION 1
#endif
#endif
#if defined(__x86_64__) && defined(__clang__) && defined(__linux__) && !defined(MG_NO_MULTIVERSION)
#define MG_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_MULTIVERSION
#endif

#endif
