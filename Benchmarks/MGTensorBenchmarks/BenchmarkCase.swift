import MGTensor

/// One row of the benchmark table: a Swift closure and the PyTorch op that does the same work.
struct BenchmarkCase {
    let name: String
    /// Request sent to Tools/bench/torch_ops.py.
    let torchOp: String
    let torchArgs: [String: Any]
    /// Builds the inputs once and returns the timed closure.
    let prepare: () throws -> () throws -> Void
}

func randomTensor(_ shape: [Int], seed: UInt64 = 42) throws -> Tensor {
    try Tensor(shape: shape, values: randomValues(shape.reduce(1, *), seed: seed))
}
