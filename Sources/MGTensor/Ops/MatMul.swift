import COpenBLAS
import Foundation

/// Matrix product over the last two axes, with NumPy/PyTorch broadcasting of the leading axes.
///
/// `a` is `[..., M, K]` and `b` is `[..., K, N]` (or `[..., N, K]` with `transposeB`); the result is
/// `[broadcast(...), M, N]` in F32. When `b` has no batch (a 2-D weight), the batch of `a` is folded
/// into one GEMM. F16/BF16 operands are converted whole; use ``linear(_:weight:bias:)`` for large
/// stored weights, which converts them block by block.
///
/// - Parameters:
///   - a: `[..., M, K]`, rank at least 2.
///   - b: `[..., K, N]`, or `[..., N, K]` when `transposeB` is true; rank at least 2.
///   - transposeB: read `b` as its transpose over the last two axes, without copying it.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for rank below 2 or sizes BLAS cannot
///   address, ``TensorError/shapeMismatch(operation:_:_:)`` when the inner dimensions or batch axes
///   disagree, ``TensorError/unsupportedDType(operation:_:)`` for non-float tensors.
public func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws(TensorError) -> Tensor {
    try batchedProduct(a, b, transposeB: transposeB, operation: "matmul")
}

/// Batched matrix product like `torch.bmm`: `a` is `[B, M, K]`, `b` is `[B, K, N]` (or `[B, N, K]`
/// with `transposeB`), with the same batch size and no broadcasting; the result is `[B, M, N]`.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` unless both tensors have rank 3,
///   ``TensorError/shapeMismatch(operation:_:_:)`` when the batch or inner dimensions differ.
public func batchedMatmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) throws(TensorError) -> Tensor {
    guard a.rank == 3, b.rank == 3 else {
        throw .invalidArgument(operation: "batchedMatmul", reason: "expects rank-3 tensors, got \(a.shape) and \(b.shape)")
    }
    guard a.shape[0] == b.shape[0] else { throw .shapeMismatch(operation: "batchedMatmul", a.shape, b.shape) }
    return try batchedProduct(a, b, transposeB: transposeB, operation: "batchedMatmul")
}

private func batchedProduct(_ a: Tensor, _ b: Tensor, transposeB: Bool, operation: String) throws(TensorError) -> Tensor {
    guard a.rank >= 2, b.rank >= 2 else {
        throw .invalidArgument(operation: operation, reason: "expects rank >= 2, got \(a.shape) and \(b.shape)")
    }
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
    let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
    let (kB, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
    guard k == kB else { throw .shapeMismatch(operation: operation, a.shape, b.shape) }
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    guard let batch = broadcastShapes(aBatch, bBatch) else { throw .shapeMismatch(operation: operation, a.shape, b.shape) }
    let batchCount = batch.reduce(1, *)
    guard Shape.elementCount(batch + [m, n]) != nil else { throw .invalidShape(batch + [m, n]) }

    let lhs = try a.asFloat32(), rhs = try b.asFloat32()
    var result = Tensor(uninitializedShape: batch + [m, n])
    if result.count == 0 { return result }
    if k == 0 { return try Tensor.zeros(result.shape) }

    let aCount = aBatch.reduce(1, *), bCount = bBatch.reduce(1, *)
    // A batch-free right operand lets every row of `a` share one GEMM (the common weight case).
    let fold = bCount == 1
    let rowsPerCall = fold ? aCount * m : m
    try checkBLASDimensions([rowsPerCall, n, k], operation: operation)

    let aOffsets = fold ? [] : broadcastOffsets(from: aBatch, to: batch, matrixSize: m * k)
    let bOffsets = fold ? [] : broadcastOffsets(from: bBatch, to: batch, matrixSize: k * n)
    lhs.withUnsafeFloats { aBuffer in
        rhs.withUnsafeFloats { bBuffer in
            result.withUnsafeMutableFloats { cBuffer in
                let aBase = aBuffer.baseAddress!, bBase = bBuffer.baseAddress!, cBase = cBuffer.baseAddress!
                if fold {
                    sgemmRowMajor(m: rowsPerCall, n: n, k: k, a: aBase, b: bBase, transposeB: transposeB, c: cBase)
                    return
                }
                let calls = UncheckedSendable((aBase, bBase, cBase))
                let run = { (index: Int) in
                    let (aPtr, bPtr, cPtr) = calls.value
                    sgemmRowMajor(
                        m: m, n: n, k: k, a: aPtr + aOffsets[index], b: bPtr + bOffsets[index],
                        transposeB: transposeB, c: cPtr + index * m * n)
                }
                // Many modest products (e.g. per-head attention scores) run side by side on
                // single-threaded BLAS, which beats threading each small GEMM.
                let flopsPerCall = 2.0 * Double(m) * Double(n) * Double(k)
                if Parallel.threadCount > 1, batchCount >= 2 * Parallel.threadCount, flopsPerCall < 2e8 {
                    BLASThreads.singleThreaded {
                        Parallel.forEachChunk(count: batchCount, minimumChunk: 1) { range in
                            for index in range { run(index) }
                        }
                    }
                } else {
                    for index in 0..<batchCount { run(index) }
                }
            }
        }
    }
    return result
}

/// The NumPy broadcast of two shapes, or nil when they are incompatible.
private func broadcastShapes(_ lhs: [Int], _ rhs: [Int]) -> [Int]? {
    let rank = max(lhs.count, rhs.count)
    var shape = [Int](repeating: 1, count: rank)
    for axis in 0..<rank {
        let l = axis < rank - lhs.count ? 1 : lhs[axis - (rank - lhs.count)]
        let r = axis < rank - rhs.count ? 1 : rhs[axis - (rank - rhs.count)]
        guard l == r || l == 1 || r == 1 else { return nil }
        shape[axis] = l == 1 ? r : l
    }
    return shape
}

/// Element offset of each matrix of `shape` (a batch shape broadcast to `target`), in the order of
/// `target`'s flat batch index.
private func broadcastOffsets(from shape: [Int], to target: [Int], matrixSize: Int) -> [Int] {
    let count = target.reduce(1, *)
    let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
    var strides = [Int](repeating: 0, count: target.count)
    var step = matrixSize
    for axis in stride(from: target.count - 1, through: 0, by: -1) {
        strides[axis] = padded[axis] == 1 ? 0 : step
        step *= padded[axis]
    }
    var offsets = [Int](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: target.count)
    for flat in 0..<count {
        var offset = 0
        for axis in 0..<target.count { offset += index[axis] * strides[axis] }
        offsets[flat] = offset
        var axis = target.count - 1
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < target[axis] { break }
            index[axis] = 0
            axis -= 1
        }
    }
    return offsets
}

/// Throws when a GEMM dimension does not fit BLAS's 32-bit integers.
func checkBLASDimensions(_ values: [Int], operation: String) throws(TensorError) {
    for value in values where value > Int(Int32.max) {
        throw .invalidArgument(operation: operation, reason: "dimension \(value) exceeds the BLAS 32-bit range")
    }
}

/// C[m, n] = alpha · A[m, k] · B (+ beta · C), all row-major and densely packed, where B is
/// [k, n], or [n, k] read transposed when `transposeB`. `ldc` defaults to `n`.
package func sgemmRowMajor(
    m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
    b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    BLASThreads.run(threaded: flops >= BLASThreads.minimumThreadedGEMMFlops) {
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda ?? k),
            b, Int32(ldb ?? (transposeB ? k : n)), beta, c, Int32(ldc ?? n))
    }
}

/// Switches OpenBLAS to one thread while parallel regions issue their own small GEMMs, so BLAS
/// threads and ours do not oversubscribe the cores, and for any GEMM too small to be worth sharing
/// (``run(threaded:_:)``). The setting is process-wide, so nested and concurrent regions are counted
/// and the thread count is restored when the last one ends.
enum BLASThreads {
    // NSLock rather than `Mutex`: ThreadSanitizer does not see the standard library's Mutex on
    // Linux and reports every counted region as a race; it does see pthread mutexes.
    private static let lock = NSLock()
    nonisolated(unsafe) private static var depth = 0

    /// GEMMs below this (under a millisecond on one core) stay on the calling thread. OpenBLAS
    /// threads anything above 2^18 multiply-adds and then waits for its worker: on a busy machine a
    /// worker that is not scheduled stalls each such call for a scheduler time slice, which made the
    /// small bundled model 20–30× slower under load. Real-size layers are far above this.
    static let minimumThreadedGEMMFlops = Double(1 << 26)
    /// Matrix-vector products below this many weights (4 MB in F32) stay on the calling thread.
    static let minimumThreadedGEMVElements = 1 << 20

    /// Runs `body` with OpenBLAS's threads when `threaded`, otherwise on the calling thread only.
    static func run<R>(threaded: Bool, _ body: () throws -> R) rethrows -> R {
        _ = Parallel.configureBLAS
        if threaded || Parallel.threadCount == 1 { return try body() }
        return try singleThreaded(body)
    }

    static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        _ = Parallel.configureBLAS
        lock.withLock {
            if depth == 0 { openblas_set_num_threads(1) }
            depth += 1
        }
        defer {
            lock.withLock {
                depth -= 1
                if depth == 0 { openblas_set_num_threads(Int32(Parallel.threadCount)) }
            }
        }
        return try body()
    }
}
