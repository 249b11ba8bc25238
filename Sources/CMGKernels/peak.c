// Peak probes for the benchmarks (mg_cpu_tier.h): 12 independent accumulator chains of one
// instruction, enough to cover its latency on current cores, with nothing else in the loop.
#include "mg_cpu_tier.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define CHAINS 12

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static double dot_zmm(size_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80), b = (__m512bh)_mm512_set1_epi32(0x3c003c00);
    for (size_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
        __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)iterations * CHAINS * 64;
}

__attribute__((target("avx512f"))) static double fma_zmm(size_t iterations) {
    __m512 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
    for (size_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" : "+v"(a), "+v"(b));
    }
    __m512 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)iterations * CHAINS * 32;
}

__attribute__((target("avx2,fma"))) static double fma_ymm(size_t iterations) {
    __m256 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps(0.001f * (float)i);
    __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
    for (size_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m256 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * CHAINS * 16;
}

// SSE2 mul + add (two instructions per 4-lane "FMA"): the portable x86-64 baseline.
static double fma_sse(size_t iterations) {
    __m128 acc[CHAINS];
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm_set1_ps(0.001f * (float)i);
    __m128 a = _mm_set1_ps(0.999f), b = _mm_set1_ps(1e-4f);
    for (size_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], a), b);
        __asm__ volatile("" : "+x"(a), "+x"(b));
    }
    __m128 sum = acc[0];
    for (int i = 1; i < CHAINS; i++) sum = _mm_add_ps(sum, acc[i]);
    volatile float sink = _mm_cvtss_f32(sum);
    (void)sink;
    return (double)iterations * CHAINS * 8;
}

double mg_peak_bf16_dot(int tier, size_t iterations) {
    if (tier < MG_TIER_AVX512BF16 || mg_kernel_tier_detected() < MG_TIER_AVX512BF16) return 0;
    return dot_zmm(iterations);
}

double mg_peak_f32_fma(int tier, size_t iterations) {
    if (tier > mg_kernel_tier_detected()) return 0;
    if (tier >= MG_TIER_AVX512) return fma_zmm(iterations);
    if (tier == MG_TIER_AVX2) return fma_ymm(iterations);
    return fma_sse(iterations);
}

#else

double mg_peak_bf16_dot(int tier, size_t iterations) { (void)tier, (void)iterations; return 0; }
double mg_peak_f32_fma(int tier, size_t iterations) { (void)tier, (void)iterations; return 0; }

#endif
