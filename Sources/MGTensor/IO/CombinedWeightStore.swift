/// Several weight stores seen as one: a name is looked up in each in turn, so the first store
/// that has it wins. A quantized release folder is a GGUF decoder (``GGUFDecoderWeights``) before
/// the safetensors file that holds the towers, projector and mining weights.
public struct CombinedWeightStore: WeightStore {
    /// The stores, in lookup order.
    public let stores: [any WeightStore]
    public let names: [String]

    public init(_ stores: [any WeightStore]) {
        self.stores = stores
        names = Array(Set(stores.flatMap(\.names))).sorted()
    }

    public func contains(_ name: String) -> Bool { stores.contains { $0.contains(name) } }

    /// True when any store (the GGUF decoder of a quantized folder) keeps llama's adjacent pairs.
    public var rotaryPairsAdjacent: Bool { stores.contains { $0.rotaryPairsAdjacent } }

    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        for store in stores where store.contains(name) { return try store.tensor(named: name) }
        throw .tensorNotFound(path: "combined store", tensor: name)
    }

    public func matrix(named name: String) throws(CheckpointError) -> MatrixWeight {
        for store in stores where store.contains(name) { return try store.matrix(named: name) }
        throw .tensorNotFound(path: "combined store", tensor: name)
    }
}
