// Linear layers over ``MatrixWeight``: dense weights take the float paths unchanged (AMX, fused
// GEMV, OpenBLAS), quantized blocks go through ``quantizedLinear(_:weight:bias:)``.

/// `y = x · Wᵀ (+ bias)` for a dense or quantized `[out, in]` weight; a few rows (a batched decode
/// step) with a 16-bit weight stream it once for all rows.
/// - Throws: as ``linear(_:weight:bias:precision:)`` or ``quantizedLinear(_:weight:bias:)``.
package func linear(
    _ x: Tensor, weight: MatrixWeight, bias: Tensor? = nil, precision: LinearPrecision = .float32
) throws(TensorError) -> Tensor {
    switch weight {
    case .dense(let tensor):
        if let result = try fewRowLinear(x, weight: tensor, bias: bias, precision: precision) { return result }
        return try linear(x, weight: tensor, bias: bias, precision: precision)
    case .quantized(let matrix):
        return try quantizedLinear(x, weight: matrix, bias: bias)
    }
}

/// `x · Wᵢᵀ` for several weights that share the input (a layer's q/k/v): one packing and one
/// parallel pass when they are all dense (``linear(_:weights:precision:)``), one product each
/// otherwise.
package func linear(_ x: Tensor, weights: [MatrixWeight], precision: LinearPrecision = .float32) throws(TensorError) -> [Tensor] {
    if let dense = denseTensors(weights), !(2...fewRowLinearLimit).contains(x.rank == 2 ? x.shape[0] : 0) {
        return try linear(x, weights: dense, precision: precision)
    }
    if let quantized = quantizedMatrices(weights), x.rank == 2, x.shape[0] == 1, x.dtype == .f32,
       quantized.allSatisfy({ $0.columns == x.shape[1] }) {
        // Decode: one activation row per format and one parallel pass over all the matrices.
        let outputs = quantized.map { Tensor(uninitializedShape: [1, $0.rows]) }  // fresh, owned storage
        let pointers = outputs.map { $0.storage.mutableBase.assumingMemoryBound(to: Float.self) }
        try x.withUnsafeFloats { (xs) throws(TensorError) in
            try quantizedGEMVs(quantized, x: xs.baseAddress!, outputs: pointers)
        }
        return withExtendedLifetime(outputs) { outputs }
    }
    var outputs = [Tensor]()
    for weight in weights { outputs.append(try linear(x, weight: weight, precision: precision)) }
    return outputs
}

/// `down(act(x · gateᵀ) ⊙ (x · upᵀ))` with dense or quantized weights; the fused dense kernels
/// (``gatedMLP(_:gate:up:down:activation:precision:)``) when all three are dense.
package func gatedMLP(
    _ x: Tensor, gate: MatrixWeight, up: MatrixWeight, down: MatrixWeight, activation: GatedActivation,
    precision: LinearPrecision = .float32
) throws(TensorError) -> Tensor {
    if let dense = denseTensors([gate, up, down]), !(2...fewRowLinearLimit).contains(x.rank == 2 ? x.shape[0] : 0) {
        return try gatedMLP(x, gate: dense[0], up: dense[1], down: dense[2], activation: activation, precision: precision)
    }
    guard up.shape == gate.shape, down.shape == gate.shape.reversed() else {
        throw .shapeMismatch(operation: "gatedMLP", gate.shape, down.shape)
    }
    if case .quantized(let g) = gate, case .quantized(let u) = up, g.format == u.format, g.format.hasIntegerKernels,
       x.rank == 2, x.shape[0] == 1, x.dtype == .f32 {
        // Decode: one quantized activation row for both matrices, gate and up rows interleaved per
        // pass and combined at once (mg_qd_gemv_gated).
        var hidden = Tensor(uninitializedShape: [1, g.rows])
        try x.withUnsafeFloats { (xs) throws(TensorError) in
            try hidden.withUnsafeMutableFloats { (ys) throws(TensorError) in
                try quantizedGatedGEMV(gate: g, up: u, x: xs.baseAddress!, activation: activation, y: ys.baseAddress!)
            }
        }
        return try linear(hidden, weight: down, precision: precision)
    }
    let projected = try linear(x, weights: [gate, up], precision: precision)
    return try linear(activation.gated(projected[0], projected[1]), weight: down, precision: precision)
}

/// The matrices of `weights` when every one is quantized in a format with integer kernels.
private func quantizedMatrices(_ weights: [MatrixWeight]) -> [QuantizedMatrix]? {
    var matrices = [QuantizedMatrix]()
    for weight in weights {
        guard case .quantized(let matrix) = weight, matrix.format.hasIntegerKernels else { return nil }
        matrices.append(matrix)
    }
    return matrices
}

/// The tensors of `weights` when every one is dense.
private func denseTensors(_ weights: [MatrixWeight]) -> [Tensor]? {
    var tensors = [Tensor]()
    for weight in weights {
        guard case .dense(let tensor) = weight else { return nil }
        tensors.append(tensor)
    }
    return tensors
}
