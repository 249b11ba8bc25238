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
    /// `linear`), checking that consecutive layers chain and, when given, that the first takes
    /// `inputSize`-wide rows and the last makes `outputSize`-wide ones.
    public init(
        type: String, from store: some WeightStore, prefix: String = "model.mm_projector", inputSize: Int? = nil, outputSize: Int? = nil
    ) throws(MiningError) {
        let reader = WeightReader(store, errors: MiningError.weight)
        let names: [String]
        switch type {
        case "identity":
            names = []
        case "linear":
            names = [prefix]
        default:
            guard type.hasPrefix("mlp"), type.hasSuffix("x_gelu"),
                  let depth = Int(type.dropFirst(3).dropLast(6)), depth >= 1, depth <= 64
            else { throw .unknownProjectorType(type) }
            names = (0..<depth).map { "\(prefix).\(2 * $0)" }
        }
        var layers: [(weight: Tensor, bias: Tensor)] = []
        for (index, name) in names.enumerated() {
            let weight = try reader.take(name + ".weight")
            let input = index == 0 ? inputSize : layers[index - 1].weight.shape[0]
            let output = index == names.count - 1 ? outputSize : nil
            guard weight.rank == 2 else {
                throw .weightShape(name: name + ".weight", expected: [output ?? -1, input ?? -1], actual: weight.shape)
            }
            let expected = [output ?? weight.shape[0], input ?? weight.shape[1]]
            guard weight.shape == expected else { throw .weightShape(name: name + ".weight", expected: expected, actual: weight.shape) }
            layers.append((weight, try reader.take(name + ".bias", shape: [expected[0]])))
        }
        self.layers = layers
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
