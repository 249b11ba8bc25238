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

__attribute__((target("avx512f"))) static uint64_t read_zmm(const uint8_t *data, size_t bytes) {
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 256 <= bytes; i += 256) {
        a = _mm512_xor_si512(a, _mm512_loadu_si512((const void *)(data + i)));
        b = _mm512_xor_si512(b, _mm512_loadu_si512((const void *)(data + i + 64)));
        c = _mm512_xor_si512(c, _mm512_loadu_si512((const void *)(data + i + 128)));
        d = _mm512_xor_si512(d, _mm512_loadu_si512((const void *)(data + i + 192)));
    }
    uint64_t sum = (uint64_t)_mm512_reduce_add_epi64(_mm512_xor_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(c, d)));
    for (; i < bytes; i++) sum += data[i];
    return sum;
}

static uint64_t read_words(const uint8_t *data, size_t bytes) {
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 32 <= bytes; i += 32) {
        uint64_t w[4];
        __builtin_memcpy(w, data + i, 32);
        a ^= w[0], b ^= w[1], c ^= w[2], d ^= w[3];
    }
    uint64_t sum = a ^ b ^ c ^ d;
    for (; i < bytes; i++) sum += data[i];
    return sum;
}

uint64_t mg_read_bytes(const void *data, size_t bytes) {
    if (mg_kernel_tier_detected() >= MG_TIER_AVX512) return read_zmm((const uint8_t *)data, bytes);
    return read_words((const uint8_t *)data, bytes);
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

uint64_t mg_read_bytes(const void *data, size_t bytes) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t sum = 0;
    for (size_t i = 0; i < bytes; i++) sum += p[i];
    return sum;
}

#endif
