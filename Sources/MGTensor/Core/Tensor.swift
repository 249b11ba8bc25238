import CMGKernels

/// A dense, row-major tensor.
///
/// Storage is either an owned allocation or a region of a memory-mapped checkpoint in its stored
/// dtype (``DType/f32``, ``DType/f16`` or ``DType/bf16``). Compute is Float32: operations read
/// F16/BF16 operands through a vectorised conversion at the point of use, so a model's weights are
/// never upcast as a whole.
///
/// ```swift
/// let x = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
/// let y = try softmax(x, axis: -1)
/// print(y.shape, y.floats())
/// ```
public struct Tensor: Sendable {
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// The number of elements (product of ``shape``).
    public let count: Int
    /// The bytes of the tensor, exactly `count × dtype.byteSize` of them.
    public private(set) var storage: TensorStorage

    /// The element type of the storage.
    public var dtype: DType { storage.dtype }
    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// Wraps existing storage; the caller guarantees the byte count matches.
    init(shape: [Int], count: Int, storage: TensorStorage) {
        precondition(count * storage.dtype.byteSize == storage.byteCount, "storage size does not match shape")
        self.shape = shape
        self.count = count
        self.storage = storage
    }

    /// Creates an uninitialised F32 tensor for an operation's result. `shape` must be valid.
    package init(uninitializedShape shape: [Int]) {
        guard let count = Shape.elementCount(shape) else { preconditionFailure("invalid shape \(shape)") }
        self.init(shape: shape, count: count, storage: TensorStorage(allocating: count * 4, dtype: .f32))
    }

    /// Creates an F32 tensor from values in row-major order.
    /// - Throws: ``TensorError/invalidShape(_:)`` or ``TensorError/elementCountMismatch(shape:count:)``.
    public init(shape: [Int], values: [Float]) throws(TensorError) {
        guard let count = Shape.elementCount(shape) else { throw .invalidShape(shape) }
        guard count == values.count else { throw .elementCountMismatch(shape: shape, count: values.count) }
        self.init(uninitializedShape: shape)
        values.withUnsafeBytes { storage.mutableBase.copyMemory(from: $0.baseAddress!, byteCount: count * 4) }
    }

    /// Creates a tensor of `dtype` from raw little-endian bytes (copied).
    public init(shape: [Int], dtype: DType, bytes: UnsafeRawBufferPointer) throws(TensorError) {
        guard let count = Shape.elementCount(shape) else { throw .invalidShape(shape) }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, byteCount == bytes.count else {
            throw .elementCountMismatch(shape: shape, count: bytes.count / dtype.byteSize)
        }
        let storage = TensorStorage(allocating: byteCount, dtype: dtype)
        if byteCount > 0 { storage.mutableBase.copyMemory(from: bytes.baseAddress!, byteCount: byteCount) }
        self.init(shape: shape, count: count, storage: storage)
    }

    /// A zero-filled F32 tensor.
    public static func zeros(_ shape: [Int]) throws(TensorError) -> Tensor {
        guard Shape.elementCount(shape) != nil else { throw .invalidShape(shape) }
        var tensor = Tensor(uninitializedShape: shape)
        tensor.withUnsafeMutableFloats { $0.initialize(repeating: 0) }
        return tensor
    }

    /// An F32 tensor with every element equal to `value`.
    public static func filled(_ shape: [Int], with value: Float) throws(TensorError) -> Tensor {
        guard Shape.elementCount(shape) != nil else { throw .invalidShape(shape) }
        var tensor = Tensor(uninitializedShape: shape)
        tensor.withUnsafeMutableFloats { $0.initialize(repeating: value) }
        return tensor
    }
}

// MARK: - Element access

extension Tensor {
    /// The elements as Float32, converted from F16/BF16 storage if needed.
    /// - Precondition: the dtype is F32, F16 or BF16 (see ``DType/isFloatingPointCompute``).
    public func floats() -> [Float] {
        precondition(dtype.isFloatingPointCompute, "floats() needs a floating-point tensor, got \(dtype)")
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            convertToFloats(into: buffer.baseAddress!, range: 0..<count)
            initialized = count
        }
    }

    /// This tensor with F32 storage: itself when already F32, a converted copy for F16/BF16.
    /// - Throws: ``TensorError/unsupportedDType(operation:_:)`` for integer and other types.
    public func asFloat32() throws(TensorError) -> Tensor {
        switch dtype {
        case .f32:
            return self
        case .f16, .bf16:
            let result = Tensor(uninitializedShape: shape)
            convertToFloats(into: result.storage.mutableBase.assumingMemoryBound(to: Float.self), range: 0..<count)
            return result
        default:
            throw .unsupportedDType(operation: "asFloat32", dtype)
        }
    }

    /// Converts elements `range` of a float tensor into `destination` (vectorised for F16/BF16).
    /// Parallel across cores for large ranges.
    public func convertToFloats(into destination: UnsafeMutablePointer<Float>, range: Range<Int>) {
        let base = storage.base
        let type = dtype
        let start = range.lowerBound
        Parallel.forEachChunk(count: range.count, minimumChunk: 1 << 16) { chunk in
            let out = destination + chunk.lowerBound
            let first = start + chunk.lowerBound
            switch type {
            case .f32:
                out.update(from: base.assumingMemoryBound(to: Float.self) + first, count: chunk.count)
            case .bf16:
                mg_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self) + first, out, chunk.count)
            case .f16:
                mg_f16_to_f32(base.assumingMemoryBound(to: UInt16.self) + first, out, chunk.count)
            default:
                preconditionFailure("not a floating-point tensor: \(type)")
            }
        }
    }

    /// Calls `body` with the F32 elements.
    /// - Precondition: the dtype is F32 (operations call ``asFloat32()`` first).
    public func withUnsafeFloats<R, E: Error>(_ body: (UnsafeBufferPointer<Float>) throws(E) -> R) throws(E) -> R {
        precondition(dtype == .f32, "withUnsafeFloats needs F32 storage, got \(dtype)")
        return try body(UnsafeBufferPointer(start: storage.base.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Calls `body` with writable F32 elements, copying shared or borrowed storage first.
    /// - Precondition: the dtype is F32.
    public mutating func withUnsafeMutableFloats<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        precondition(dtype == .f32, "withUnsafeMutableFloats needs F32 storage, got \(dtype)")
        if !storage.isOwned || !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try body(UnsafeMutableBufferPointer(start: storage.mutableBase.assumingMemoryBound(to: Float.self), count: count))
    }

    /// Calls `body` with the raw stored bytes, whatever the dtype.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: storage.byteCount))
    }

    /// A tensor of `dtype` holding this tensor's values (F32 ↔ F16/BF16, rounding to nearest even).
    public func converted(to target: DType) throws(TensorError) -> Tensor {
        if target == dtype { return self }
        let source = try asFloat32()
        guard target.isFloatingPointCompute else { throw .unsupportedDType(operation: "converted(to:)", target) }
        if target == .f32 { return source }
        let storage = TensorStorage(allocating: count * 2, dtype: target)
        let input = source.storage.base.assumingMemoryBound(to: Float.self)
        let output = storage.mutableBase.assumingMemoryBound(to: UInt16.self)
        Parallel.forEachChunk(count: count, minimumChunk: 1 << 16) { chunk in
            if target == .bf16 {
                mg_f32_to_bf16(input + chunk.lowerBound, output + chunk.lowerBound, chunk.count)
            } else {
                mg_f32_to_f16(input + chunk.lowerBound, output + chunk.lowerBound, chunk.count)
            }
        }
        return Tensor(shape: shape, count: count, storage: storage)
    }
}

// MARK: - Views

extension Tensor {
    /// The same elements with a new shape (no copy). One dimension may be `-1` and is inferred.
    /// - Throws: ``TensorError/invalidShape(_:)`` when the element counts differ.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            var rest = newShape
            rest.remove(at: inferred)
            guard let known = Shape.elementCount(rest), known > 0, count % known == 0 else {
                throw .shapeMismatch(operation: "reshape", shape, newShape)
            }
            resolved[inferred] = count / known
        }
        guard let newCount = Shape.elementCount(resolved) else { throw .invalidShape(newShape) }
        guard newCount == count else { throw .shapeMismatch(operation: "reshape", shape, newShape) }
        return Tensor(shape: resolved, count: count, storage: storage)
    }

    /// Element `index` along the first axis, as a zero-copy view (e.g. one layer of stacked weights).
    public func row(_ index: Int) throws(TensorError) -> Tensor {
        guard rank >= 1 else { throw .invalidAxis(operation: "row", axis: 0, rank: rank) }
        guard index >= 0, index < shape[0] else { throw .indexOutOfRange(operation: "row", index: index, count: shape[0]) }
        let innerShape = Array(shape.dropFirst())
        let innerCount = shape[0] == 0 ? 0 : count / shape[0]
        let byteSize = dtype.byteSize
        let view = TensorStorage(
            borrowing: storage.base + index * innerCount * byteSize,
            byteCount: innerCount * byteSize, dtype: dtype, owner: storage)
        return Tensor(shape: innerShape, count: innerCount, storage: view)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor(\(dtype.rawValue), shape: \(shape))" }
}
