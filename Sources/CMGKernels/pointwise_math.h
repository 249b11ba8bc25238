// Private, header-only math for the pointwise kernels: branch-free polynomial approximations that
// inline into MG_MULTIVERSION loops and auto-vectorise (libm calls would block vectorisation).
#ifndef MG_POINTWISE_MATH_H
#define MG_POINTWISE_MATH_H
#include <stdint.h>

// Lanes of the explicit accumulators used for float reductions: the compiler may not reassociate
// a scalar float sum, but it does vectorise 16 independent partial sums.
#define MG_LANES 16

// Compute-bound loops use 16-float vectors: on x86-64-v4 clones clang otherwise prefers 256-bit
// vectors, and AVX-512 doubles the polynomial throughput. target_clones cannot be combined with
// min_vector_width, so the loop lives in an always-inlined MG_WIDE body called from the
// MG_MULTIVERSION entry point (inlining carries the 512-bit width into the AVX-512 clone only).
// Other clones split the 16-wide loop into 2 × 256-bit or 4 × 128-bit operations.
#if defined(__clang__)
#define MG_WIDE static inline __attribute__((always_inline, min_vector_width(512)))
#define MG_WIDE_LOOP _Pragma("clang loop vectorize(assume_safety) vectorize_width(16)")
#else
#define MG_WIDE static inline __attribute__((always_inline))
#define MG_WIDE_LOOP
#endif

static inline float mg_bits_to_float(uint32_t bits) {
    float value;
    __builtin_memcpy(&value, &bits, 4);
    return value;
}

static inline uint32_t mg_float_to_bits(float value) {
    uint32_t bits;
    __builtin_memcpy(&bits, &value, 4);
    return bits;
}

// exp(x) for x <= 0 (every caller arranges a non-positive argument, so overflow never arises).
// x = n·ln2 + r with |r| <= ln2/2; exp(r) by a degree-7 Taylor polynomial (truncation < 1e-8
// relative), then scaled by 2^n built directly in the exponent field. Arguments below -87 give 0
// instead of subnormals. NaN propagates through the polynomial.
static inline float mg_exp_nonpositive(float x) {
    const float clamped = x < -87.0f ? -87.0f : x;
    // Adding 1.5·2^23 rounds t to an integer held in the low mantissa bits: n without a
    // float-to-int conversion (which would be undefined for NaN).
    const float shifted = clamped * 1.44269504088896341f + 12582912.0f;
    const float n = shifted - 12582912.0f;
    const int32_t exponent = (int32_t)(mg_float_to_bits(shifted) - 0x4B400000u);
    float r = clamped - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723e-6f;
    float p = 1.98412698e-4f;
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const float scale = mg_bits_to_float((uint32_t)(exponent + 127) << 23);
    return x < -87.0f ? 0.0f : p * scale;
}

// Logistic function 1/(1+e^-x), evaluated through e = exp(-|x|) <= 1 so neither branch can
// overflow and the negative side keeps full relative accuracy (e/(1+e)).
static inline float mg_sigmoid(float x) {
    const float e = mg_exp_nonpositive(-__builtin_fabsf(x));
    const float s = 1.0f / (1.0f + e);
    return x >= 0.0f ? s : e * s;
}

// GELU, exact form: x·Φ(x) with Φ(x) = 0.5·(1 + erf(x/√2)). erfc(a) for a = |x|/√2 uses the
// exp-free form of Abramowitz & Stegun 7.1.28, erfc(a) ≈ 1/(1 + c₁a + … + c₆a⁶)¹⁶ (absolute error
// below 3e-7), which costs six FMAs, four squarings and one division. Φ is taken as 1 − erfc/2 or
// erfc/2 by sign, so the negative tail keeps its relative accuracy instead of cancelling.
static inline float mg_gelu_erf_scalar(float x) {
    const float a = __builtin_fabsf(x) * 0.707106781186547524f;
    float p = 0.0000430638f;
    p = p * a + 0.0002765672f;
    p = p * a + 0.0001520143f;
    p = p * a + 0.0092705272f;
    p = p * a + 0.0422820123f;
    p = p * a + 0.0705230784f;
    p = p * a + 1.0f;
    p = p * p;
    p = p * p;
    p = p * p;
    p = p * p;
    const float half_erfc = 0.5f / p;
    return x * (x >= 0.0f ? 1.0f - half_erfc : half_erfc);
}

// GELU, tanh form: 0.5·x·(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), rewritten as
// x·sigmoid(2u), which avoids the cancellation of 1 + tanh(u) for negative u.
static inline float mg_gelu_tanh_scalar(float x) {
    const float u = 0.797884560802865356f * (x + 0.044715f * x * x * x);
    return x * mg_sigmoid(2.0f * u);
}

/// The maximum of a row, or NaN when the row holds a NaN (as torch.max and softmax see it).
static inline float mg_row_max(const float *x, size_t n) {
    float lanes[MG_LANES];
    for (int l = 0; l < MG_LANES; l++) lanes[l] = -__builtin_inff();
    int nan_lanes[MG_LANES] = {0};
    const size_t body = n - n % MG_LANES;
    for (size_t i = 0; i < body; i += MG_LANES) {
        for (int l = 0; l < MG_LANES; l++) {
            const float v = x[i + l];
            lanes[l] = v > lanes[l] ? v : lanes[l];
            nan_lanes[l] |= v != v;
        }
    }
    float maximum = -__builtin_inff();
    int has_nan = 0;
    for (int l = 0; l < MG_LANES; l++) {
        maximum = lanes[l] > maximum ? lanes[l] : maximum;
        has_nan |= nan_lanes[l];
    }
    for (size_t i = body; i < n; i++) {
        maximum = x[i] > maximum ? x[i] : maximum;
        has_nan |= x[i] != x[i];
    }
    return has_nan ? __builtin_nanf("") : maximum;
}

#endif
