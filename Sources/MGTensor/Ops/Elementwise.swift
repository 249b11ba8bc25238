import CMGKernels

// Element-wise arithmetic with NumPy/PyTorch broadcasting, scaling and nan_to_num.

/// `a + b` with NumPy/PyTorch broadcasting (e.g. `[B,T,C] + [C]`, `[N,C,H,W] + [1,C,1,1]`).
/// - Returns: an F32 tensor of the broadcast shape.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the shapes do not broadcast,
///   ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func add(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    try broadcastBinary(a, b, op: MG_BINARY_ADD, operation: "add")
}

/// `a − b` with NumPy/PyTorch broadcasting. See ``add(_:_:)``.
public func sub(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    try broadcastBinary(a, b, op: MG_BINARY_SUB, operation: "sub")
}

/// `a · b` (element-wise) with NumPy/PyTorch broadcasting. See ``add(_:_:)``.
public func mul(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    try broadcastBinary(a, b, op: MG_BINARY_MUL, operation: "mul")
}

/// `a / b` (element-wise, IEEE division) with NumPy/PyTorch broadcasting. See ``add(_:_:)``.
public func div(_ a: Tensor, _ b: Tensor) throws(TensorError) -> Tensor {
    try broadcastBinary(a, b, op: MG_BINARY_DIV, operation: "div")
}

/// `x += y` in place, for residual connections; `y` broadcasts to `x`'s shape (e.g. a bias).
/// `x` is converted to F32 first if it is not, and copied first if its storage is shared.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when `y` does not broadcast to `x`'s
///   shape (the result may not grow `x`).
public func addInPlace(_ x: inout Tensor, _ y: Tensor) throws(TensorError) {
    try broadcastInPlace(&x, y, op: MG_BINARY_ADD, operation: "addInPlace")
}

/// `x *= y` in place; `y` broadcasts to `x`'s shape (e.g. a per-channel layer scale).
/// - Throws: as ``addInPlace(_:_:)``.
public func mulInPlace(_ x: inout Tensor, _ y: Tensor) throws(TensorError) {
    try broadcastInPlace(&x, y, op: MG_BINARY_MUL, operation: "mulInPlace")
}

/// `x · factor` for every element.
/// - Throws: ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func scale(_ x: Tensor, by factor: Float) throws(TensorError) -> Tensor {
    try Pointwise.map(x) { mg_scale($0, factor, $1, $2) }
}

/// Replaces NaN and infinities, as `torch.nan_to_num`.
/// - Parameters:
///   - x: any float tensor.
///   - nan: the value for NaN (default 0).
///   - posInf: the value for +∞; `nil` means `Float.greatestFiniteMagnitude`.
///   - negInf: the value for −∞; `nil` means `-Float.greatestFiniteMagnitude`.
/// - Throws: ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func nanToNum(_ x: Tensor, nan: Float = 0, posInf: Float? = nil, negInf: Float? = nil) throws(TensorError) -> Tensor {
    let positive = posInf ?? .greatestFiniteMagnitude
    let negative = negInf ?? -.greatestFiniteMagnitude
    return try Pointwise.map(x) { mg_nan_to_num($0, $1, $2, nan, positive, negative) }
}

/// The shape `a op b` broadcasts to under NumPy/PyTorch rules.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when the shapes do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int]) throws(TensorError) -> [Int] {
    try BroadcastPlan.outputShape(a, b, operation: "broadcast")
}

private func broadcastBinary(_ a: Tensor, _ b: Tensor, op: mg_binary_op, operation: String) throws(TensorError) -> Tensor {
    let shape = try BroadcastPlan.outputShape(a.shape, b.shape, operation: operation)
    let left = try a.asFloat32(), right = try b.asFloat32()
    var result = Tensor(uninitializedShape: shape)
    if result.count == 0 { return result }
    let plan = BroadcastPlan(output: shape, a: a.shape, b: b.shape)
    try checkPlanRank(plan, operation: operation)
    left.withUnsafeFloats { l in
        right.withUnsafeFloats { r in
            result.withUnsafeMutableFloats { out in
                run(plan, op: op, a: l.baseAddress!, b: r.baseAddress!, y: out.baseAddress!, count: out.count)
            }
        }
    }
    return result
}

private func broadcastInPlace(_ x: inout Tensor, _ y: Tensor, op: mg_binary_op, operation: String) throws(TensorError) {
    if x.shape == y.shape, x.dtype == .f32, y.dtype == .f32, x.count < 2 * Pointwise.minimumChunk {
        // Equal shapes below the parallel size (a decode step's residual adds, one row): one call,
        // without the broadcast plan's arrays.
        var count = x.count, unit = 1
        if count == 0 { return }
        y.withUnsafeFloats { r in
            x.withUnsafeMutableFloats { out in
                mg_binary_broadcast(op, out.baseAddress!, r.baseAddress!, out.baseAddress!, 1, &count, &unit, &unit, 0, count)
            }
        }
        return
    }
    let shape = try BroadcastPlan.outputShape(x.shape, y.shape, operation: operation)
    guard shape == x.shape else { throw .shapeMismatch(operation: operation, x.shape, y.shape) }
    if x.dtype != .f32 { x = try x.asFloat32() }
    let other = try y.asFloat32()
    if x.count == 0 { return }
    let plan = BroadcastPlan(output: shape, a: x.shape, b: y.shape)
    try checkPlanRank(plan, operation: operation)
    other.withUnsafeFloats { r in
        x.withUnsafeMutableFloats { out in
            // The kernel allows the output to be the left operand when that operand is not broadcast.
            run(plan, op: op, a: out.baseAddress!, b: r.baseAddress!, y: out.baseAddress!, count: out.count)
        }
    }
}

private func checkPlanRank(_ plan: BroadcastPlan, operation: String) throws(TensorError) {
    guard plan.shape.count <= 8 else {
        throw .invalidArgument(operation: operation, reason: "broadcast needs more than 8 distinct axes")
    }
}

private func run(
    _ plan: BroadcastPlan, op: mg_binary_op, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    y: UnsafeMutablePointer<Float>, count: Int
) {
    plan.shape.withUnsafeBufferPointer { dims in
        plan.aStrides.withUnsafeBufferPointer { sa in
            plan.bStrides.withUnsafeBufferPointer { sb in
                Parallel.forEachChunk(count: count, minimumChunk: Pointwise.minimumChunk) { chunk in
                    mg_binary_broadcast(
                        op, a, b, y, dims.count, dims.baseAddress, sa.baseAddress, sb.baseAddress,
                        chunk.lowerBound, chunk.upperBound)
                }
            }
        }
    }
}
