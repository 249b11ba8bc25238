/// A read-only collection of named tensors: a checkpoint as model code sees it.
///
/// ``SafetensorsFile`` (one file) and ``ShardedSafetensors`` (a directory or an index of shards)
/// adopt it, so a model loads its weights the same way from either.
///
/// ```swift
/// func loadProjector(from weights: some WeightStore) throws -> (Tensor, Tensor) {
///     (try weights.tensor(named: "mm_projector.0.weight"), try weights.tensor(named: "mm_projector.0.bias"))
/// }
/// ```
public protocol WeightStore: Sendable {
    /// Every tensor name, sorted.
    var names: [String] { get }

    /// Whether a tensor called `name` exists.
    func contains(_ name: String) -> Bool

    /// The tensor `name` in its stored dtype (a zero-copy view where the format allows).
    /// - Throws: ``CheckpointError/tensorNotFound(path:tensor:)`` when there is no such tensor.
    func tensor(named name: String) throws(CheckpointError) -> Tensor

    /// The matrix `name` as a linear layer consumes it: GGML quantized blocks where the store holds
    /// them (GGUF), otherwise ``MatrixWeight/dense(_:)`` of ``tensor(named:)`` (the default).
    func matrix(named name: String) throws(CheckpointError) -> MatrixWeight

    /// Whether the decoder's q/k projections come with each head's rotary pairs in adjacent rows
    /// (llama.cpp's `llama` layout, as GGUF stores them) rather than Hugging Face's halves; the
    /// decoder then rotates adjacent pairs. `false` by default; a store that wraps another and hands
    /// out its q/k matrices must forward it.
    var rotaryPairsAdjacent: Bool { get }
}

extension WeightStore {
    public var rotaryPairsAdjacent: Bool { false }

    public func matrix(named name: String) throws(CheckpointError) -> MatrixWeight {
        .dense(try tensor(named: name))
    }

    /// The tensor `name`, or `nil` when the store has none (e.g. an optional bias).
    public func tensorIfPresent(named name: String) throws(CheckpointError) -> Tensor? {
        guard contains(name) else { return nil }
        return try tensor(named: name)
    }

    /// The names that start with `prefix`, sorted (e.g. the weights of one layer).
    public func names(withPrefix prefix: String) -> [String] {
        names.filter { $0.hasPrefix(prefix) }
    }
}
