/// Turns the unpickled object into flat tensor names (see ``TorchCheckpoint`` for the rules).
struct TorchStateDictFlattener {
    /// Keys whose dict value is the state dict when the outer dict holds no tensors itself.
    static let wrapperKeys = ["state_dict", "model_state_dict", "model", "module"]
    /// Deeper nesting than this is refused (real state dicts nest two or three levels).
    static let maximumDepth = 32

    let unpickler: TorchUnpickler
    let path: String
    /// Flattened tensor names with their index into the unpickler's tensors, in pickle order.
    private(set) var tensors: [(name: String, index: Int)] = []
    /// Flattened names of skipped non-tensor values.
    private(set) var ignored: [String] = []
    private var names: Set<String> = []
    /// Dicts already flattened: a dict referenced twice is read once, which also bounds the work a
    /// hostile pickle of shared dicts can cause.
    private var visited: Set<Int> = []

    init(unpickler: TorchUnpickler, path: String) {
        self.unpickler = unpickler
        self.path = path
    }

    mutating func flatten(_ root: PickleValue) throws(CheckpointError) {
        guard case .dict(var index) = root else {
            throw .unsupportedCheckpointContent(path: path, reason: "the pickled object is a \(root.kind), not a state dict")
        }
        var prefix = ""
        for _ in 0..<Self.maximumDepth {
            let dict = unpickler.dicts[index]
            let holdsTensors = dict.keys.contains { key in
                if case .tensor = dict.values[key] { return true }
                return false
            }
            guard !holdsTensors, let wrapper = Self.wrapperKeys.first(where: { key in
                if case .dict = dict[key] { return true }
                return false
            }), case .dict(let inner) = dict[wrapper] else { break }
            prefix += wrapper + "."
            for key in dict.keys where key != .string(wrapper) { ignored.append(String(prefix.dropLast(wrapper.count + 1)) + key.text) }
            index = inner
        }
        visited.insert(index)
        try visit(index, prefix: "", depth: 0)
        guard !tensors.isEmpty else {
            throw .unsupportedCheckpointContent(path: path, reason: "the state dict holds no tensors")
        }
    }

    private mutating func visit(_ index: Int, prefix: String, depth: Int) throws(CheckpointError) {
        guard depth < Self.maximumDepth else {
            throw .unsupportedCheckpointContent(path: path, reason: "dicts nested deeper than \(Self.maximumDepth) levels at \(prefix)")
        }
        let dict = unpickler.dicts[index]
        for key in dict.keys {
            let name = prefix + key.text
            switch dict.values[key] {
            case .tensor(let tensor):
                guard names.insert(name).inserted else {
                    throw .unsupportedCheckpointContent(path: path, reason: "tensor name \(name) occurs twice after flattening")
                }
                tensors.append((name, tensor))
            case .dict(let inner) where visited.insert(inner).inserted:
                try visit(inner, prefix: name + ".", depth: depth + 1)
            default:
                ignored.append(name)
            }
        }
    }
}
