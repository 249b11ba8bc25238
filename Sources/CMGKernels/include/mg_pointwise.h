#ifndef MG_POINTWISE_H
#define MG_POINTWISE_H
#include "mg_common.h"

/// Binary arithmetic operators of mg_binary_broadcast.
typedef enum {
    MG_BINARY_ADD = 0,
    MG_BINARY_SUB = 1,
    MG_BINARY_MUL = 2,
    MG_BINARY_DIV = 3,
} mg_binary_op;

/// y = a op b over output elements [begin, end) of a dense tensor of `rank` dims `shape`
/// (1 <= rank <= 8), where operand element strides are `a_strides` / `b_strides` (0 on broadcast
/// axes). The last axis must have stride 0 or 1 for both operands (callers collapse axes first).
/// `y` may be the same buffer as `a` (in-place update when `a` is not broadcast).
void mg_binary_broadcast(mg_binary_op op, const float *a, const float *b, float *y, size_t rank,
                         const size_t *shape, const size_t *a_strides, const size_t *b_strides,
                         size_t begin, size_t end);

/// y[i] = x[i]·s. `y` may equal `x`.
void mg_scale(const float *x, float s, float *y, size_t n);

/// torch.nan_to_num: NaN → `nan`, +inf → `posinf`, −inf → `neginf`, others unchanged.
void mg_nan_to_num(const float *x, float *y, size_t n, float nan, float posinf, float neginf);

/// Element-wise activations of mg_activation / mg_gated_activation.
typedef enum {
    MG_ACT_GELU_ERF = 0,   ///< 0.5·x·(1 + erf(x/√2))
    MG_ACT_GELU_TANH = 1,  ///< 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
    MG_ACT_QUICK_GELU = 2, ///< x·sigmoid(1.702x)
    MG_ACT_SILU = 3,       ///< x·sigmoid(x)
    MG_ACT_SIGMOID = 4,    ///< 1/(1 + e^−x)
} mg_activation_kind;

/// y[i] = act(x[i]) for i < n. `y` may equal `x`.
void mg_activation(mg_activation_kind kind, const float *x, float *y, size_t n);

/// y[i] = act(gate[i])·up[i] for i < n (the gated MLP of LLaMA/Gemma decoders). `y` may equal
/// `gate` or `up`.
void mg_gated_activation(mg_activation_kind kind, const float *gate, const float *up, float *y, size_t n);

#endif
