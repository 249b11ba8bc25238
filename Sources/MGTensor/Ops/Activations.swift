import CMGKernels

// Element-wise activations and the gated (GLU) forms of decoder MLPs. The kernels evaluate exp and
// erf with vectorised polynomials (see pointwise_math.h) accurate to about 1e-7 relative.

/// Which formula ``gelu(_:approximation:)`` uses, as `approximate=` of `torch.nn.functional.gelu`.
public enum GELUApproximation: Sendable, Hashable {
    /// The exact form `0.5·x·(1 + erf(x/√2))` (`approximate='none'`): CLIP, ConvNeXt.
    case none
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (`approximate='tanh'`): Gemma's `gelu_pytorch_tanh`.
    case tanh

    var kernel: mg_activation_kind { self == .none ? MG_ACT_GELU_ERF : MG_ACT_GELU_TANH }
}

/// Gaussian error linear unit, as `torch.nn.functional.gelu(x, approximate:)`.
/// - Returns: an F32 tensor of `x`'s shape.
/// - Throws: ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func gelu(_ x: Tensor, approximation: GELUApproximation = .none) throws(TensorError) -> Tensor {
    try activation(x, approximation.kernel)
}

/// `x · sigmoid(1.702·x)`, the GELU approximation of OpenAI CLIP (`quick_gelu`).
public func quickGelu(_ x: Tensor) throws(TensorError) -> Tensor {
    try activation(x, MG_ACT_QUICK_GELU)
}

/// `x · sigmoid(x)` (SiLU / swish), as `torch.nn.functional.silu`.
public func silu(_ x: Tensor) throws(TensorError) -> Tensor {
    try activation(x, MG_ACT_SILU)
}

/// The logistic function `1 / (1 + e^−x)`, as `torch.sigmoid`.
public func sigmoid(_ x: Tensor) throws(TensorError) -> Tensor {
    try activation(x, MG_ACT_SIGMOID)
}

/// `silu(gate) · up` in one pass: the gated MLP of LLaMA-style decoders.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` unless `gate` and `up` have the same shape.
public func siluGated(_ gate: Tensor, _ up: Tensor) throws(TensorError) -> Tensor {
    try Pointwise.zip(gate, up, operation: "siluGated") { mg_gated_activation(MG_ACT_SILU, $0, $1, $2, $3) }
}

/// `gelu(gate) · up` in one pass: the gated MLP of Gemma (`approximation: .tanh`).
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` unless `gate` and `up` have the same shape.
public func geluGated(_ gate: Tensor, _ up: Tensor, approximation: GELUApproximation = .none) throws(TensorError) -> Tensor {
    let kind = approximation.kernel
    return try Pointwise.zip(gate, up, operation: "geluGated") { mg_gated_activation(kind, $0, $1, $2, $3) }
}

private func activation(_ x: Tensor, _ kind: mg_activation_kind) throws(TensorError) -> Tensor {
    // The polynomial kernels cost more per element than plain arithmetic, so smaller chunks pay off.
    try Pointwise.map(x, minimumChunk: 1 << 13) { mg_activation(kind, $0, $1, $2) }
}
