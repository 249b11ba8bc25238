import CMGKernels

// Layout operations move bytes without arithmetic, so they keep the dtype of their input (an F16 or
// BF16 tensor stays F16/BF16) and are exact. Results are dense and row-major like every tensor;
// where the result is a contiguous run of the input it is a zero-copy view.

/// Permutes the axes of `x` like `x.permute(axes).contiguous()` in PyTorch: result axis `i` is input
/// axis `axes[i]`. The dtype is kept.
///
/// Axes that stay adjacent and in order are merged first, so e.g. NCHW → NHWC runs as a batched
/// 2-D transpose, `[B, T, H, D] → [B, H, T, D]` as copies of whole `D` rows, and an order that leaves
/// memory unchanged returns a view.
///
/// - Parameters:
///   - x: a tensor of any dtype.
///   - axes: a permutation of `0..<x.rank` (negative axes count from the end).
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` unless `axes` is a permutation of
///   the tensor's axes, ``TensorError/invalidAxis(operation:axis:rank:)`` for an axis out of range.
public func permute(_ x: Tensor, _ axes: [Int]) throws(TensorError) -> Tensor {
    let operation = "permute"
    guard axes.count == x.rank else {
        throw .invalidArgument(operation: operation, reason: "\(axes) is not a permutation of \(x.rank) axes")
    }
    var seen = [Bool](repeating: false, count: x.rank)
    var resolved = [Int]()
    resolved.reserveCapacity(axes.count)
    for axis in axes {
        let normalized = try Shape.normalizedAxis(axis, rank: x.rank, operation: operation)
        guard !seen[normalized] else {
            throw .invalidArgument(operation: operation, reason: "\(axes) is not a permutation of \(x.rank) axes")
        }
        seen[normalized] = true
        resolved.append(normalized)
    }
    let outShape = resolved.map { x.shape[$0] }
    let strides = Shape.strides(x.shape)
    // Merge axes that are contiguous in both layouts; size-1 axes carry no layout.
    var dims = [(size: Int, stride: Int)]()
    for axis in resolved where x.shape[axis] != 1 {
        let dim = (size: x.shape[axis], stride: strides[axis])
        if let last = dims.last, last.stride == dim.stride * dim.size {
            dims[dims.count - 1] = (last.size * dim.size, dim.stride)
        } else {
            dims.append(dim)
        }
    }
    if x.count == 0 || dims.count <= 1 {
        return Tensor(shape: outShape, count: x.count, storage: x.storage)
    }
    let elementSize = x.dtype.byteSize
    let result = Tensor(shape: outShape, count: x.count, storage: TensorStorage(allocating: x.storage.byteCount, dtype: x.dtype))
    let box = UncheckedSendable((x.storage.base, result.storage.mutableBase))

    // out[b][i][j] = in[b][j][i]: a (batched) transpose.
    let isTranspose2D = dims.count == 2 && dims[1].stride == dims[0].size && dims[0].stride == 1
    let isTranspose3D = dims.count == 3 && dims[1].stride == 1 && dims[2].stride == dims[1].size
        && dims[0].stride == dims[1].size * dims[2].size
    if isTranspose2D || isTranspose3D {
        let batch = isTranspose3D ? dims[0].size : 1
        let cols = dims[dims.count - 2].size, rows = dims[dims.count - 1].size
        let matrix = rows * cols
        if batch >= 2 * Parallel.threadCount {
            Parallel.forEachChunk(count: batch, minimumChunk: max(1, 65536 / matrix)) { range in
                let (src, dst) = box.value
                let offset = range.lowerBound * matrix * elementSize
                mg_transpose(src + offset, dst + offset, range.count, rows, cols, elementSize, 0, cols)
            }
        } else {
            // Split by destination rows, so the threads never share an output cache line.
            Parallel.forEachChunk(count: cols, minimumChunk: max(32, 65536 / max(1, rows * batch))) { range in
                let (src, dst) = box.value
                mg_transpose(src, dst, batch, rows, cols, elementSize, range.lowerBound, range.upperBound)
            }
        }
        return result
    }

    guard dims.count <= 8 else {
        throw .invalidArgument(operation: operation, reason: "more than 8 non-mergeable axes in \(x.shape)")
    }
    let sizes = dims.map(\.size), sourceStrides = dims.map(\.stride), rank = dims.count
    sizes.withUnsafeBufferPointer { sizeBuffer in
        sourceStrides.withUnsafeBufferPointer { strideBuffer in
            let shapes = UncheckedSendable((sizeBuffer.baseAddress!, strideBuffer.baseAddress!))
            Parallel.forEachChunk(count: x.count, minimumChunk: 1 << 15) { range in
                let (src, dst) = box.value
                let (sizes, strides) = shapes.value
                mg_permute_copy(
                    src, dst, elementSize, rank, sizes, strides, range.lowerBound, range.upperBound)
            }
        }
    }
    return result
}

/// Concatenates tensors along `axis` like `torch.cat`. All tensors need the same rank and the same
/// size on every other axis. The dtype is kept when all inputs share it; mixed float dtypes are
/// converted to F32.
///
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` for an empty list,
///   ``TensorError/invalidAxis(operation:axis:rank:)``, ``TensorError/shapeMismatch(operation:_:_:)``
///   when the other axes differ, ``TensorError/unsupportedDType(operation:_:)`` when dtypes differ
///   and are not all floating point.
public func concat(_ tensors: [Tensor], axis: Int) throws(TensorError) -> Tensor {
    let operation = "concat"
    guard let first = tensors.first else { throw .invalidArgument(operation: operation, reason: "no tensors to concatenate") }
    let axis = try Shape.normalizedAxis(axis, rank: first.rank, operation: operation)
    var total = 0
    for tensor in tensors {
        guard tensor.rank == first.rank else { throw .shapeMismatch(operation: operation, first.shape, tensor.shape) }
        for dimension in 0..<first.rank where dimension != axis && tensor.shape[dimension] != first.shape[dimension] {
            throw .shapeMismatch(operation: operation, first.shape, tensor.shape)
        }
        total += tensor.shape[axis]
    }
    var parts = tensors
    if tensors.contains(where: { $0.dtype != first.dtype }) {
        parts = []
        for tensor in tensors {
            guard tensor.dtype.isFloatingPointCompute else { throw .unsupportedDType(operation: operation, tensor.dtype) }
            parts.append(try tensor.asFloat32())
        }
    }
    var outShape = first.shape
    outShape[axis] = total
    guard let count = Shape.elementCount(outShape) else { throw .invalidShape(outShape) }
    let dtype = parts[0].dtype, elementSize = dtype.byteSize
    let result = Tensor(shape: outShape, count: count, storage: TensorStorage(allocating: count * elementSize, dtype: dtype))
    if count == 0 { return result }

    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let rowBytes = total * inner * elementSize
    let sources = parts.map { (base: $0.storage.base, bytes: $0.shape[axis] * inner * elementSize) }
    let box = UncheckedSendable((sources, result.storage.mutableBase))
    if outer == 1 {
        // One parallel region over pieces of all parts (e.g. a channel concat of feature maps).
        var pieces = [(source: UnsafeRawPointer, offset: Int, bytes: Int)]()
        var offset = 0
        for source in sources {
            for start in stride(from: 0, to: source.bytes, by: copyPieceBytes) {
                pieces.append((source.base + start, offset + start, min(copyPieceBytes, source.bytes - start)))
            }
            offset += source.bytes
        }
        let pieceBox = UncheckedSendable(pieces)
        // Many small parts make many pieces but little work: decide on bytes, not on pieces.
        let minimumChunk = rowBytes < parallelCopyBytes ? max(1, pieces.count) : parallelCopyBytes / copyPieceBytes
        Parallel.forEachChunk(count: pieces.count, minimumChunk: minimumChunk) { range in
            let destination = box.value.1
            for piece in pieceBox.value[range] {
                (destination + piece.offset).copyMemory(from: piece.source, byteCount: piece.bytes)
            }
        }
        return result
    }
    // Each output row gathers its slice of every part, so rows are written contiguously.
    Parallel.forEachChunk(count: outer, minimumChunk: max(1, parallelCopyBytes / max(1, rowBytes))) { range in
        let (sources, destination) = box.value
        for row in range {
            var out = destination + row * rowBytes
            for source in sources where source.bytes > 0 {
                out.copyMemory(from: source.base + row * source.bytes, byteCount: source.bytes)
                out += source.bytes
            }
        }
    }
    return result
}

/// Elements `range` of `axis`, like `x[..., range, ...]` (made contiguous). The dtype is kept; when
/// the selected elements are one contiguous run (the leading axes have size 1) the result is a
/// zero-copy view.
///
/// - Throws: ``TensorError/invalidAxis(operation:axis:rank:)``, or
///   ``TensorError/indexOutOfRange(operation:index:count:)`` when `range` leaves `0...shape[axis]`.
public func slice(_ x: Tensor, axis: Int, range: Range<Int>) throws(TensorError) -> Tensor {
    let operation = "slice"
    let axis = try Shape.normalizedAxis(axis, rank: x.rank, operation: operation)
    let size = x.shape[axis]
    guard range.lowerBound >= 0, range.lowerBound <= size else {
        throw .indexOutOfRange(operation: operation, index: range.lowerBound, count: size)
    }
    guard range.upperBound <= size else { throw .indexOutOfRange(operation: operation, index: range.upperBound, count: size) }
    if range.count == size { return x }
    var outShape = x.shape
    outShape[axis] = range.count
    let count = x.count / size * range.count
    let elementSize = x.dtype.byteSize
    let outer = x.shape[..<axis].reduce(1, *)
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    let source = x.storage.base + range.lowerBound * inner * elementSize
    if outer == 1 || count == 0 {
        let view = TensorStorage(borrowing: source, byteCount: count * elementSize, dtype: x.dtype, owner: x.storage)
        return Tensor(shape: outShape, count: count, storage: view)
    }
    let result = Tensor(shape: outShape, count: count, storage: TensorStorage(allocating: count * elementSize, dtype: x.dtype))
    let rowBytes = range.count * inner * elementSize
    copyRows(
        count: outer, bytes: rowBytes, from: source, stride: size * inner * elementSize,
        to: result.storage.mutableBase, stride: rowBytes)
    return result
}

/// `length` elements of `axis` starting at `start`, like `torch.narrow` (see ``slice(_:axis:range:)``).
public func narrow(_ x: Tensor, axis: Int, start: Int, length: Int) throws(TensorError) -> Tensor {
    guard length >= 0 else { throw .invalidArgument(operation: "narrow", reason: "negative length \(length)") }
    let (end, overflow) = start.addingReportingOverflow(length)
    guard !overflow else { throw .invalidArgument(operation: "narrow", reason: "start \(start) + length \(length) overflows") }
    return try slice(x, axis: axis, range: start..<end)
}

/// Splits `x` along `axis` into consecutive pieces of the given sizes, like `torch.split` with a
/// list (e.g. a 2×2 quadrant split is two splits). Each piece follows ``slice(_:axis:range:)``.
/// - Throws: ``TensorError/invalidArgument(operation:reason:)`` unless the sizes are non-negative
///   and add up to the axis length; ``TensorError/invalidAxis(operation:axis:rank:)``.
public func split(_ x: Tensor, axis: Int, sizes: [Int]) throws(TensorError) -> [Tensor] {
    let resolved = try Shape.normalizedAxis(axis, rank: x.rank, operation: "split")
    guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == x.shape[resolved] else {
        throw .invalidArgument(operation: "split", reason: "sizes \(sizes) do not add up to \(x.shape[resolved])")
    }
    var pieces = [Tensor]()
    var start = 0
    for size in sizes {
        pieces.append(try slice(x, axis: resolved, range: start..<start + size))
        start += size
    }
    return pieces
}

/// Copies smaller than this stay on one thread.
private let parallelCopyBytes = 1 << 18
/// Large contiguous copies are split into pieces of this size to spread them over the cores.
private let copyPieceBytes = 1 << 16

/// Copies `count` rows of `bytes` bytes between strided buffers, over both cores when large. A
/// single large row is split into pieces so it is parallel too.
private func copyRows(
    count: Int, bytes: Int, from source: UnsafeRawPointer, stride sourceStride: Int,
    to destination: UnsafeMutableRawPointer, stride destinationStride: Int
) {
    guard count > 0, bytes > 0 else { return }
    let box = UncheckedSendable((source, destination))
    if count == 1 {
        let piece = copyPieceBytes
        let pieces = (bytes + piece - 1) / piece
        Parallel.forEachChunk(count: pieces, minimumChunk: parallelCopyBytes / piece) { range in
            let (source, destination) = box.value
            let start = range.lowerBound * piece, end = min(bytes, range.upperBound * piece)
            (destination + start).copyMemory(from: source + start, byteCount: end - start)
        }
        return
    }
    Parallel.forEachChunk(count: count, minimumChunk: max(1, parallelCopyBytes / bytes)) { range in
        let (source, destination) = box.value
        for row in range {
            (destination + row * destinationStride).copyMemory(from: source + row * sourceStride, byteCount: bytes)
        }
    }
}
