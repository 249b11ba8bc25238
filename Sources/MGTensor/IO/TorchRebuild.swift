/// The torch-specific parts of unpickling: the persistent-id hook that names storages, and the
/// allowlisted callables (`OrderedDict`, the tensor and parameter rebuild functions), which build
/// records instead of running any code.
extension TorchUnpickler {
    /// "Calls" an allowlisted global with `arguments` (REDUCE).
    mutating func call(_ callable: TorchGlobal, _ arguments: [PickleValue], _ machine: Machine) throws(CheckpointError) -> PickleValue {
        switch callable {
        case .orderedDict:
            let result = newDict()
            guard !arguments.isEmpty else { return result }
            // OrderedDict(items): a list of (key, value) pairs.
            guard arguments.count == 1, let pairs = sequenceItems(arguments[0]), case .dict(let index) = result else {
                throw machine.error("OrderedDict arguments are not a sequence of pairs")
            }
            for pair in pairs {
                guard let items = sequenceItems(pair), items.count == 2 else {
                    throw machine.error("OrderedDict item is not a pair")
                }
                dicts[index].set(try dictKey(items[0], machine), items[1])
            }
            return result
        case .rebuildTensorV2:
            guard arguments.count == 6 || arguments.count == 7 else {
                throw machine.error("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(arguments.count)")
            }
            return try rebuildTensor(arguments, dtype: nil, machine)
        case .rebuildTensorV3:
            guard arguments.count == 7 || arguments.count == 8, case .global(.dtype(let dtype)) = arguments[6] else {
                throw machine.error("_rebuild_tensor_v3 takes 7 or 8 arguments, the 7th a dtype")
            }
            return try rebuildTensor(arguments, dtype: dtype, machine)
        case .rebuildParameter, .rebuildParameterWithState:
            // (data, requires_grad, backward_hooks[, state]): a Parameter is its data here.
            let expected = callable == .rebuildParameter ? 3 : 4
            guard arguments.count == expected, case .tensor = arguments[0] else {
                throw machine.error("\(callable) takes \(expected) arguments, the first a tensor")
            }
            return arguments[0]
        case .storageType, .dtype:
            throw machine.error("\(callable) cannot be called")
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`, or
    /// v3 with the dtype as 7th argument (for dtypes without a typed storage class, e.g. uint16).
    private mutating func rebuildTensor(
        _ arguments: [PickleValue], dtype explicit: DType?, _ machine: Machine
    ) throws(CheckpointError) -> PickleValue {
        guard case .storage(let storage) = arguments[0] else {
            throw machine.error("tensor storage argument is a \(arguments[0].kind)")
        }
        let offset = try nonNegative(arguments[1], "storage offset", machine)
        guard let sizes = tupleItems(arguments[2]), let strides = tupleItems(arguments[3]), sizes.count == strides.count else {
            throw machine.error("tensor size and stride are not tuples of one length")
        }
        var shape: [Int] = []
        var steps: [Int] = []
        for (size, step) in zip(sizes, strides) {
            shape.append(try nonNegative(size, "tensor size", machine))
            steps.append(try nonNegative(step, "tensor stride", machine))
        }
        guard Shape.elementCount(shape) != nil else { throw machine.error("tensor size \(shape) overflows") }
        guard case .bool = arguments[4] else { throw machine.error("requires_grad is a \(arguments[4].kind)") }
        switch arguments[5] {
        case .dict, .none: break
        default: throw machine.error("backward hooks are a \(arguments[5].kind)")
        }
        let dtype = explicit ?? storages[storage].dtype
        tensors.append(TorchTensorRecord(storage: storage, dtype: dtype, shape: shape, strides: steps, offset: offset))
        return .tensor(tensors.count - 1)
    }

    /// Resolves `('storage', storage_type, key, location, numel[, view_metadata])` (BINPERSID).
    ///
    /// The location (`cpu`, `cuda:0`) is ignored: every tensor is read into host memory. Legacy
    /// files may add `(view_key, offset, size)`, a view of the stored storage.
    mutating func persistentLoad(_ identifier: PickleValue, _ machine: Machine) throws(CheckpointError) -> PickleValue {
        guard let items = tupleItems(identifier), items.count == 5 || items.count == 6, items[0] == .string("storage") else {
            throw machine.error("persistent id is not a ('storage', type, key, location, numel) tuple")
        }
        guard case .global(.storageType(let dtype, _)) = items[1] else {
            throw machine.error("storage type is a \(items[1].kind)")
        }
        let key: String
        switch items[2] {
        case .string(let string): key = string
        case .int(let value): key = String(value)
        default: throw machine.error("storage key is a \(items[2].kind)")
        }
        let count = try nonNegative(items[4], "storage size", machine)
        guard !count.multipliedReportingOverflow(by: dtype.byteSize).overflow else {
            throw machine.error("storage \(key) size \(count) overflows")
        }
        var view: Range<Int>?
        if items.count == 6, items[5] != .none {
            guard let metadata = tupleItems(items[5]), metadata.count == 3 else {
                throw machine.error("storage view metadata is not a (key, offset, size) tuple")
            }
            let start = try nonNegative(metadata[1], "storage view offset", machine)
            let length = try nonNegative(metadata[2], "storage view size", machine)
            guard start <= count, length <= count - start else {
                throw machine.error("view [\(start), +\(length)) of storage \(key) exceeds its \(count) elements")
            }
            view = start..<(start + length)
        }
        let reference = TorchStorageReference(key: key, dtype: dtype, count: count, view: view)
        if let first = storageByKey[key] {
            guard storages[first].dtype == dtype, storages[first].count == count else {
                throw machine.error("storage \(key) is declared with two different types or sizes")
            }
            if view == nil, storages[first].view == nil { return .storage(first) }
        } else {
            storageByKey[key] = storages.count
        }
        storages.append(reference)
        return .storage(storages.count - 1)
    }

    private func nonNegative(_ value: PickleValue, _ what: String, _ machine: Machine) throws(CheckpointError) -> Int {
        guard case .int(let integer) = value, integer >= 0, integer <= Int64(Int.max) else {
            throw machine.error("\(what) is not a non-negative integer (\(value.kind))")
        }
        return Int(integer)
    }

    private func sequenceItems(_ value: PickleValue) -> [PickleValue]? {
        switch value {
        case .tuple(let index): tuples[index]
        case .list(let index): lists[index]
        default: nil
        }
    }
}
