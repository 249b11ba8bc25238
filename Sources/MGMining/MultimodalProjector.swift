// The `mm_projector` built by the official mgm/model/multimodal_projector/builder.py from
// `mm_projector_type`: `linear`, `mlp<N>x_gelu` (Linear, then N−1 × (GELU, Linear)) or `identity`.
import MGTensor

/// Maps fused visual features (`mm_hidden_size` wide) into the language model's embedding space.
public struct MultimodalProjector: Sendable {
    /// The linear layers in order, each `(weight [out, in], bias [out])`; GELU (erf) between them.
    public let layers: [(weight: Tensor, bias: Tensor)]
    /// The `mm_projector_type` this was built from.
    public let type: String

    /// Builds the projector of `type` from `<prefix>.<i>.weight` / `.bias` (or `<prefix>.weight` for
    /// `linear`), checking that consecutive layers chain.
    public init(type: String, from store: some WeightStore, prefix: String = "model.mm_projector") throws(MiningError) {
        func load(_ name: String) throws(MiningError) -> Tensor {
            do { return try store.tensor(named: name) } catch { throw .missingWeight(name) }
        }
        var layers: [(Tensor, Tensor)] = []
        switch type {
        case "identity":
            break
        case "linear":
            layers.append((try load(prefix + ".weight"), try load(prefix + ".bias")))
        default:
            guard type.hasPrefix("mlp"), type.hasSuffix("x_gelu"),
                  let depth = Int(type.dropFirst(3).dropLast(6)), depth >= 1, depth <= 64
            else { throw .unknownProjectorType(type) }
            for index in 0..<depth {
                layers.append((try load("\(prefix).\(2 * index).weight"), try load("\(prefix).\(2 * index).bias")))
            }
        }
        for (index, layer) in layers.enumerated() {
            guard layer.0.rank == 2, layer.1.shape == [layer.0.shape[0]] else {
                throw .weightShape(name: "\(prefix) layer \(index)", expected: [layer.0.shape.first ?? -1], actual: layer.1.shape)
            }
            if index > 0, layers[index - 1].0.shape[0] != layer.0.shape[1] {
                throw .weightShape(name: "\(prefix) layer \(index) weight", expected: [layer.0.shape[0], layers[index - 1].0.shape[0]], actual: layer.0.shape)
            }
        }
        self.layers = layers.map { (weight: $0.0, bias: $0.1) }
        self.type = type
    }

    /// Input width, or `nil` for `identity`.
    public var inputSize: Int? { layers.first?.weight.shape[1] }
    /// Output width, or `nil` for `identity`.
    public var outputSize: Int? { layers.last?.weight.shape[0] }

    /// Projects `[..., mm_hidden_size]` features to `[..., hidden_size]`.
    public func callAsFunction(_ features: Tensor) throws(MiningError) -> Tensor {
        do {
            var x = features
            for (index, layer) in layers.enumerated() {
                if index > 0 { x = try gelu(x, approximation: .none) }
                x = try linear(x, weight: layer.weight, bias: layer.bias)
            }
            return x
        } catch { throw .tensor(error) }
    }
}
