// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons (e.g. Sapphire/Emerald Rapids under
// KVM) and falls back to its generic "Prescott" SSE3 kernels, 4-5x slower for SGEMM. A dynamic-arch
// build can be re-pointed at the right kernels before its first call. The entry points are looked
// up at run time, so a build without them (single-arch OpenBLAS, another BLAS) is left untouched.
#define _GNU_SOURCE
#include "mg_gemv.h"
#include <dlfcn.h>
#include <stdlib.h>
#include <strings.h>

int mg_openblas_fix_coretype(void) {
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!corename || !quit || !init) return 0;
    // An explicit choice by the user wins.
    if (getenv("OPENBLAS_CORETYPE") != NULL) return 0;
    const char *current = corename();
    if (current == NULL || strcasecmp(current, "prescott") != 0) return 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *target = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
        target = "SkylakeX";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        target = "Haswell";
    }
    if (target == NULL) return 0;
    // OpenBLAS reads the core type from the environment during init; unset it again so child
    // processes (e.g. a Python reference run) are not affected.
    setenv("OPENBLAS_CORETYPE", target, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    return 1;
#else
    return 0;
#endif
}
