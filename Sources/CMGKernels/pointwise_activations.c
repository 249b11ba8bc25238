// Element-wise activations and their gated (GLU-style) forms. The scalar formulas live in
// pointwise_math.h; each kind gets its own loop so the polynomial inlines and vectorises.
#include "mg_pointwise.h"
#include "pointwise_math.h"

static inline float quick_gelu(float x) { return x * mg_sigmoid(1.702f * x); }
static inline float silu(float x) { return x * mg_sigmoid(x); }

// In-place use (y == x) touches each index once per iteration, so assume_safety is sound.
#define DEFINE_ACTIVATION(NAME, FN)                                                                 \
    MG_WIDE void NAME##_map_body(const float *x, float *y, size_t n) {                              \
        MG_WIDE_LOOP for (size_t i = 0; i < n; i++) y[i] = FN(x[i]);                                \
    }                                                                                               \
    MG_MULTIVERSION static void NAME##_map(const float *x, float *y, size_t n) { NAME##_map_body(x, y, n); } \
    MG_WIDE void NAME##_gated_body(const float *g, const float *u, float *y, size_t n) {            \
        MG_WIDE_LOOP for (size_t i = 0; i < n; i++) y[i] = FN(g[i]) * u[i];                         \
    }                                                                                               \
    MG_MULTIVERSION static void NAME##_gated(const float *g, const float *u, float *y, size_t n) {   \
        NAME##_gated_body(g, u, y, n);                                                              \
    }

DEFINE_ACTIVATION(gelu_erf, mg_gelu_erf_scalar)
DEFINE_ACTIVATION(gelu_tanh, mg_gelu_tanh_scalar)
DEFINE_ACTIVATION(quick_gelu, quick_gelu)
DEFINE_ACTIVATION(silu, silu)
DEFINE_ACTIVATION(sigmoid, mg_sigmoid)

void mg_activation(mg_activation_kind kind, const float *x, float *y, size_t n) {
    switch (kind) {
    case MG_ACT_GELU_ERF: gelu_erf_map(x, y, n); break;
    case MG_ACT_GELU_TANH: gelu_tanh_map(x, y, n); break;
    case MG_ACT_QUICK_GELU: quick_gelu_map(x, y, n); break;
    case MG_ACT_SILU: silu_map(x, y, n); break;
    case MG_ACT_SIGMOID: sigmoid_map(x, y, n); break;
    }
}

void mg_gated_activation(mg_activation_kind kind, const float *gate, const float *up, float *y, size_t n) {
    switch (kind) {
    case MG_ACT_GELU_ERF: gelu_erf_gated(gate, up, y, n); break;
    case MG_ACT_GELU_TANH: gelu_tanh_gated(gate, up, y, n); break;
    case MG_ACT_QUICK_GELU: quick_gelu_gated(gate, up, y, n); break;
    case MG_ACT_SILU: silu_gated(gate, up, y, n); break;
    case MG_ACT_SIGMOID: sigmoid_gated(gate, up, y, n); break;
    }
}
