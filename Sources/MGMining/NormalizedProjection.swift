import MGTensor

/// `nn.Sequential(nn.LayerNorm(in), nn.Linear(in, out))`, the form of MGM's three mining projectors
/// (`vlm_uni_query_projector`, `vlm_uni_aux_projector`, `vlm_uni_val_projector`).
public struct NormalizedProjection: Sendable {
    /// LayerNorm scale and shift, `[in]`.
    public let normWeight: Tensor
    public let normBias: Tensor
    public let epsilon: Float
    /// Linear weight `[out, in]` (HF layout, any stored dtype) and bias `[out]`.
    public let weight: Tensor
    public let bias: Tensor

    public var inputSize: Int { weight.shape[1] }
    public var outputSize: Int { weight.shape[0] }

    /// Validates the shapes of the five tensors.
    public init(normWeight: Tensor, normBias: Tensor, epsilon: Float = 1e-5, weight: Tensor, bias: Tensor, name: String = "projector") throws(MiningError) {
        guard weight.rank == 2 else { throw .weightShape(name: "\(name).1.weight", expected: [-1, -1], actual: weight.shape) }
        let (output, input) = (weight.shape[0], weight.shape[1])
        for (tensor, suffix, expected) in [(normWeight, "0.weight", [input]), (normBias, "0.bias", [input]), (bias, "1.bias", [output])]
        where tensor.shape != expected {
            throw .weightShape(name: "\(name).\(suffix)", expected: expected, actual: tensor.shape)
        }
        self.normWeight = normWeight
        self.normBias = normBias
        self.epsilon = epsilon
        self.weight = weight
        self.bias = bias
    }

    /// Loads `<prefix>.0.weight`, `<prefix>.0.bias`, `<prefix>.1.weight`, `<prefix>.1.bias`, checking
    /// every shape against the linear weight's (and against `inputSize` / `outputSize` when given).
    public init(from store: some WeightStore, prefix: String, inputSize: Int? = nil, outputSize: Int? = nil) throws(MiningError) {
        let reader = WeightReader(store, errors: MiningError.weight)
        let weight = try reader.take("\(prefix).1.weight")
        guard weight.rank == 2 else { throw .weightShape(name: "\(prefix).1.weight", expected: [outputSize ?? -1, inputSize ?? -1], actual: weight.shape) }
        let expected = [outputSize ?? weight.shape[0], inputSize ?? weight.shape[1]]
        guard weight.shape == expected else { throw .weightShape(name: "\(prefix).1.weight", expected: expected, actual: weight.shape) }
        try self.init(
            normWeight: try reader.take("\(prefix).0.weight", shape: [expected[1]]),
            normBias: try reader.take("\(prefix).0.bias", shape: [expected[1]]),
            weight: weight, bias: try reader.take("\(prefix).1.bias", shape: [expected[0]]), name: prefix)
    }

    /// `Linear(LayerNorm(x))` over the last axis.
    public func callAsFunction(_ x: Tensor) throws(MiningError) -> Tensor {
        do { return try project(x) } catch { throw .tensor(error) }
    }

    func project(_ x: Tensor) throws(TensorError) -> Tensor {
        try linear(layerNorm(x, weight: normWeight, bias: normBias, eps: epsilon), weight: weight, bias: bias)
    }
}
