#ifndef MG_SPIN_H
#define MG_SPIN_H

// A hint inside a spin-wait loop: lets the sibling hyper-thread run and saves power while a thread
// waits a few microseconds for another (the worker pool between back-to-back parallel regions).
static inline void mg_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
