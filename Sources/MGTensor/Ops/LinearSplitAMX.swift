import CMGKernels
import Synchronization

/// An F32 matrix `A` (`[rows, columns]`) packed once as bf16 hi/lo tiles for the AMX product
/// ``matmul(_:_:rowBias:)`` (`A · B`, e.g. a weight applied to activations whose columns are pixels).
///
/// Every F32 value is split into `hi = bf16(a)` and `lo = bf16(a − hi)`; the product sums
/// `Ahi·Bhi + Alo·Bhi + Ahi·Blo` with F32 accumulation, so each term is off by about 2⁻¹⁶ at most
/// and sums land within ~1e-6 (relative to the largest output) of an F32 GEMM, at two to four times
/// the speed of `sgemm` on AMX CPUs. The packed copy is as large as the F32 matrix.
///
/// ```swift
/// if let packed = SplitBF16Matrix(weight) {          // nil without AMX or when columns % 32 ≠ 0
///     let y = try matmul(packed, x, rowBias: bias)     // [N, rows, P] for x: [N, columns, P]
/// }
/// ```
public struct SplitBF16Matrix: Sendable {
    /// Rows of `A` (output rows of the product).
    public let rows: Int
    /// Columns of `A` (the reduction length).
    public let columns: Int
    private let packed: [UInt16]

    /// Packs `matrix` (`[rows, columns]`, F32, F16 or BF16), or returns nil when the product would not
    /// run on AMX: the CPU lacks it, ``MatrixKernels/usesAMX`` is off, `columns` is not a multiple
    /// of 32, or the matrix is not rank 2 or empty.
    public init?(_ matrix: Tensor) {
        guard MatrixKernels.usesAMX, matrix.rank == 2, matrix.count > 0, matrix.shape[1] % Int(MG_AMX_K_STEP) == 0,
            let values = try? matrix.asFloat32()
        else { return nil }
        let (rows, columns) = (matrix.shape[0], matrix.shape[1])
        let blocks = (rows + Int(MG_AMX_BLOCK) - 1) / Int(MG_AMX_BLOCK)
        let count = mg_amx_packed_x_count(rows, columns)
        packed = values.withUnsafeFloats { source in
            [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
                let pointers = UncheckedSendable((source.baseAddress!, buffer.baseAddress!))
                Parallel.forEachChunk(count: blocks, minimumChunk: max(1, (1 << 16) / (32 * columns))) { range in
                    let (source, target) = pointers.value
                    mg_amx_pack_x(source, columns, rows, columns, range.lowerBound, range.upperBound, target)
                }
                initialized = count
            }
        }
        (self.rows, self.columns) = (rows, columns)
    }

    fileprivate func withPacked<R>(_ body: (UnsafePointer<UInt16>) -> R) -> R {
        packed.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// `A · B` for every matrix of `b` on AMX tiles, near F32 accuracy (see ``SplitBF16Matrix``).
/// - Parameters:
///   - a: the packed `[M, K]` matrix.
///   - b: `[..., K, P]`, any float dtype (converted to F32).
///   - rowBias: optional `[M]` added to every column (`A · B + bias ⊗ 1`).
/// - Returns: `[..., M, P]` in F32.
/// - Throws: ``TensorError/shapeMismatch(operation:_:_:)`` when `b`'s rows are not `K` or the bias
///   is not `[M]`; ``TensorError/invalidArgument(operation:reason:)`` for rank below 2 or when the
///   AMX kernel cannot run (e.g. it was packed on another process state; callers normally check
///   ``MatrixKernels/usesAMX`` before packing).
public func matmul(_ a: SplitBF16Matrix, _ b: Tensor, rowBias: Tensor? = nil) throws(TensorError) -> Tensor {
    let operation = "matmul (split bf16)"
    guard b.rank >= 2, b.shape[b.rank - 2] == a.columns else {
        throw .shapeMismatch(operation: operation, [a.rows, a.columns], b.shape)
    }
    if let rowBias, rowBias.shape != [a.rows] { throw .shapeMismatch(operation: operation, rowBias.shape, [a.rows]) }
    let p = b.shape[b.rank - 1], k = a.columns, m = a.rows
    let batch = b.shape.dropLast(2).reduce(1, *)
    let rhs = try b.asFloat32()
    let bias = try rowBias?.asFloat32()
    var result = Tensor(uninitializedShape: Array(b.shape.dropLast(2)) + [m, p])
    if result.count == 0 { return result }
    let columnBlocks = (p + Int(MG_AMX_BLOCK) - 1) / Int(MG_AMX_BLOCK)
    // Two pieces per thread: dynamic enough when a core is busy elsewhere, while each piece still
    // reuses the packed B slice across all of A.
    let pieces = min(columnBlocks, 2 * Parallel.threadCount)
    let failures = Atomic<Int>(0)
    rhs.withUnsafeFloats { bBuffer in
        result.withUnsafeMutableFloats { cBuffer in
            a.withPacked { packed in
                let pointers = UncheckedSendable((packed, bBuffer.baseAddress!, cBuffer.baseAddress!))
                for image in 0..<batch {
                    let c = cBuffer.baseAddress! + image * m * p
                    if let bias {
                        bias.withUnsafeFloats { mg_fill_rows_with_scalars($0.baseAddress!, c, m, p, p) }
                    }
                    Parallel.forEachChunk(count: pieces, minimumChunk: 1) { range in
                        let (packed, b, c) = pointers.value
                        let first = range.lowerBound * columnBlocks / pieces
                        let end = range.upperBound * columnBlocks / pieces
                        let status = mg_amx_gemm_split(
                            packed, m, k, b + image * k * p, p, p, first, end, c + image * m * p, p,
                            bias == nil ? 0 : 1)
                        if status != 0 { failures.add(1, ordering: .relaxed) }
                    }
                }
            }
        }
    }
    guard failures.load(ordering: .relaxed) == 0 else {
        throw .invalidArgument(operation: operation, reason: "the AMX kernel is unavailable or out of memory")
    }
    return result
}
