/// `y = x · Wᵀ (+ bias)` for a weight stored as GGML quantized blocks.
/// - Throws: ``TensorError/unsupportedDType(operation:_:)`` until quantized products are available.
public func quantizedLinear(_ x: Tensor, weight: QuantizedMatrix, bias: Tensor?) throws(TensorError) -> Tensor {
    throw .invalidArgument(operation: "linear", reason: "\(weight.format.name) products are not available yet")
}
