/// Why a model could not take a weight from a checkpoint.
///
/// ``WeightReader`` throws these through the mapping its owner gives it, so each target reports
/// them in its own error type (``WeightReader/init(_:errors:)``).
public enum WeightReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The checkpoint has no tensor of that name.
    case missing(String)
    /// The tensor exists with another shape.
    case shapeMismatch(name: String, expected: [Int], actual: [Int])
    /// The tensor is stored in a dtype the model cannot compute with.
    case unsupportedDType(name: String, DType)
    /// The tensor exists but its bytes could not be read (truncated shard, bad offsets, …).
    case unreadable(name: String, CheckpointError)
    /// Tensors under the model's prefixes were left over (sorted, at most eight named).
    case unused([String])

    public var description: String {
        switch self {
        case .missing(let name): "checkpoint has no weight \(name)"
        case .shapeMismatch(let name, let expected, let actual): "weight \(name) has shape \(actual), expected \(expected)"
        case .unsupportedDType(let name, let dtype): "weight \(name) is stored as \(dtype.rawValue), expected F32, F16 or BF16"
        case .unreadable(let name, let error): "weight \(name) cannot be read: \(error)"
        case .unused(let names): "checkpoint tensors not used by the model: \(names.joined(separator: ", "))"
        }
    }
}

/// Takes a model's weights out of a ``WeightStore`` by name, checking each shape and dtype and
/// remembering what was taken, so loading can end with a verification that nothing was left over
/// (mlx's `update(parameters:verify:)`, as a reader).
///
/// Tensors stay in their stored dtype (zero-copy views of a memory-mapped file where the format
/// allows); matrices may also come as GGML quantized blocks (``takeMatrix(_:shape:)``), which is
/// how a decoder loads the same way from safetensors and from GGUF.
///
/// ```swift
/// let reader = WeightReader(store, errors: MyModelError.weights)
/// let weight = try reader.takeMatrix("proj.weight", shape: [out, inner])   // dense or quantized
/// let bias = try reader.takeIfPresent("proj.bias", shape: [out])
/// try reader.verifyAllUsed(under: ["proj."])
/// ```
public final class WeightReader<Failure: Error> {
    /// The store the weights come from.
    public let store: any WeightStore
    private let wrap: (WeightReadError) -> Failure
    /// Every name taken or deliberately skipped so far.
    public private(set) var usedNames = Set<String>()

    /// A reader whose errors reach the caller as `errors(problem)`.
    public init(_ store: any WeightStore, errors: @escaping (WeightReadError) -> Failure) {
        self.store = store
        self.wrap = errors
    }

    /// The tensor `name`, which must exist, have `shape` (when given) and a float compute dtype.
    public func take(_ name: String, shape: [Int]? = nil) throws(Failure) -> Tensor {
        let tensor = try read(name)
        if let shape, tensor.shape != shape { throw wrap(.shapeMismatch(name: name, expected: shape, actual: tensor.shape)) }
        guard tensor.dtype.isFloatingPointCompute else { throw wrap(.unsupportedDType(name: name, tensor.dtype)) }
        usedNames.insert(name)
        return tensor
    }

    /// The tensor `name` when the store has it (an optional bias), checked as ``take(_:shape:)``.
    public func takeIfPresent(_ name: String, shape: [Int]? = nil) throws(Failure) -> Tensor? {
        store.contains(name) ? try take(name, shape: shape) : nil
    }

    /// The matrix `name` as a linear layer consumes it: dense in a float dtype, or quantized
    /// blocks where the store holds them. `shape` is the logical `[out, in]`.
    public func takeMatrix(_ name: String, shape: [Int]) throws(Failure) -> MatrixWeight {
        guard store.contains(name) else { throw wrap(.missing(name)) }
        let matrix: MatrixWeight
        do { matrix = try store.matrix(named: name) } catch { throw wrap(.unreadable(name: name, error)) }
        guard matrix.shape == shape else { throw wrap(.shapeMismatch(name: name, expected: shape, actual: matrix.shape)) }
        if case .dense(let tensor) = matrix, !tensor.dtype.isFloatingPointCompute {
            throw wrap(.unsupportedDType(name: name, tensor.dtype))
        }
        usedNames.insert(name)
        return matrix
    }

    /// Marks `name` as deliberately not used (e.g. a layer after the selected one).
    public func skip(_ name: String) {
        usedNames.insert(name)
    }

    /// The names neither taken nor skipped, under any of `prefixes` (every name when nil) and not
    /// accepted by `isIgnorable`, sorted.
    public func unusedNames(under prefixes: [String]? = nil, isIgnorable: (String) -> Bool = { _ in false }) -> [String] {
        store.names.filter { name in
            !usedNames.contains(name) && !isIgnorable(name)
                && (prefixes.map { $0.contains { name.hasPrefix($0) } } ?? true)
        }
    }

    /// Throws ``WeightReadError/unused(_:)`` (naming up to eight) when ``unusedNames(under:isIgnorable:)``
    /// is not empty.
    public func verifyAllUsed(under prefixes: [String]? = nil, isIgnorable: (String) -> Bool = { _ in false }) throws(Failure) {
        let unused = unusedNames(under: prefixes, isIgnorable: isIgnorable)
        guard unused.isEmpty else { throw wrap(.unused(Array(unused.prefix(8)))) }
    }

    private func read(_ name: String) throws(Failure) -> Tensor {
        guard store.contains(name) else { throw wrap(.missing(name)) }
        do { return try store.tensor(named: name) } catch { throw wrap(.unreadable(name: name, error)) }
    }
}

extension WeightReader where Failure == WeightReadError {
    /// A reader that throws ``WeightReadError`` itself.
    public convenience init(_ store: any WeightStore) {
        self.init(store, errors: { $0 })
    }
}

/// Runs tensor operations, reporting their ``TensorError`` as `wrap(error)` — how a target turns
/// MGTensor failures into its own error type (`try tensorOp(LanguageModelError.tensor) { … }`).
@inlinable
public func tensorOp<T, Failure: Error>(
    _ wrap: (TensorError) -> Failure, _ body: () throws(TensorError) -> T
) throws(Failure) -> T {
    do { return try body() } catch { throw wrap(error) }
}
