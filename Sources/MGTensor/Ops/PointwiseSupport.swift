import CMGKernels

/// Shared plumbing of the pointwise operations: parallel element maps and broadcasting plans.
enum Pointwise {
    /// Elements per parallel chunk below which a map stays on one thread (dispatch costs ~10 µs,
    /// about what one core needs for this many elements of the cheapest kernels).
    static let minimumChunk = 1 << 15

    /// Applies `kernel(input, output, count)` to a same-shaped F32 result, split across cores.
    static func map(
        _ x: Tensor, minimumChunk: Int = Pointwise.minimumChunk,
        _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) throws(TensorError) -> Tensor {
        let input = try x.asFloat32()
        var result = Tensor(uninitializedShape: x.shape)
        input.withUnsafeFloats { source in
            result.withUnsafeMutableFloats { destination in
                guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
                Parallel.forEachChunk(count: source.count, minimumChunk: minimumChunk) { chunk in
                    kernel(src + chunk.lowerBound, dst + chunk.lowerBound, chunk.count)
                }
            }
        }
        return result
    }

    /// Applies `kernel(a, b, output, count)` to two same-shaped tensors.
    static func zip(
        _ a: Tensor, _ b: Tensor, operation: String,
        _ kernel: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) throws(TensorError) -> Tensor {
        guard a.shape == b.shape else { throw .shapeMismatch(operation: operation, a.shape, b.shape) }
        let left = try a.asFloat32(), right = try b.asFloat32()
        var result = Tensor(uninitializedShape: a.shape)
        left.withUnsafeFloats { l in
            right.withUnsafeFloats { r in
                result.withUnsafeMutableFloats { destination in
                    guard let lp = l.baseAddress, let rp = r.baseAddress, let dst = destination.baseAddress else { return }
                    Parallel.forEachChunk(count: l.count, minimumChunk: Pointwise.minimumChunk) { chunk in
                        kernel(lp + chunk.lowerBound, rp + chunk.lowerBound, dst + chunk.lowerBound, chunk.count)
                    }
                }
            }
        }
        return result
    }

    /// A float vector of length `count` for a per-feature parameter (weight or bias), converted
    /// from F16/BF16 if needed; `nil` stays `nil`.
    static func parameter(_ tensor: Tensor?, count: Int, operation: String) throws(TensorError) -> [Float]? {
        guard let tensor else { return nil }
        guard tensor.count == count, tensor.rank == 1 else {
            throw .shapeMismatch(operation: operation, tensor.shape, [count])
        }
        guard tensor.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: operation, tensor.dtype) }
        return tensor.floats()
    }
}

/// Strides for evaluating `a op b` over a broadcast output with as few axes as possible: size-1
/// output axes are dropped and neighbouring axes merged where both operands are contiguous across
/// them, so `[B,T,C] + [C]` becomes a `[B·T, C]` loop and `[N,C,H,W] · [1,C,1,1]` a `[N, C, H·W]` one.
struct BroadcastPlan {
    var shape: [Int] = []
    var aStrides: [Int] = []
    var bStrides: [Int] = []

    /// The NumPy/PyTorch broadcast shape: shapes are right-aligned and each pair of dimensions must
    /// be equal or contain a 1.
    static func outputShape(_ a: [Int], _ b: [Int], operation: String) throws(TensorError) -> [Int] {
        let rank = max(a.count, b.count)
        var shape = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let da = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
            let db = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
            guard da == db || da == 1 || db == 1 else { throw .shapeMismatch(operation: operation, a, b) }
            shape[axis] = da == 1 ? db : da
        }
        return shape
    }

    init(output: [Int], a: [Int], b: [Int]) {
        let rank = output.count
        func aligned(_ shape: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            let contiguous = Shape.strides(padded)
            return (0..<rank).map { padded[$0] == 1 ? 0 : contiguous[$0] }
        }
        let sa = aligned(a), sb = aligned(b)
        for axis in 0..<rank where output[axis] != 1 {
            if let last = shape.indices.last,
                aStrides[last] == sa[axis] * output[axis], bStrides[last] == sb[axis] * output[axis]
            {
                shape[last] *= output[axis]
                aStrides[last] = sa[axis]
                bStrides[last] = sb[axis]
            } else {
                shape.append(output[axis])
                aStrides.append(sa[axis])
                bStrides.append(sb[axis])
            }
        }
        if shape.isEmpty {
            shape = [1]
            aStrides = [0]
            bStrides = [0]
        }
    }
}
