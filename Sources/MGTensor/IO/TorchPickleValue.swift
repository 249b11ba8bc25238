/// A value built by ``TorchUnpickler``.
///
/// Containers live in the unpickler's arena and are referred to by index, so a hostile pickle's
/// deep nesting or reference cycles cannot make releasing or walking the values recurse.
enum PickleValue: Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer wider than 64 bits (LONG1/LONG4), as little-endian two's-complement bytes.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple(Int)
    case list(Int)
    case dict(Int)
    /// One of the allowlisted globals (a class or function reference, never called by us).
    case global(TorchGlobal)
    /// A storage produced by the persistent-id hook (index into ``TorchUnpickler/storages``).
    case storage(Int)
    /// A tensor produced by a rebuild function (index into ``TorchUnpickler/tensors``).
    case tensor(Int)

    /// A short name of the value's kind for error messages.
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global(let global): "global \(global)"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

/// A dictionary key: state dicts use strings, optimizer states integers.
enum PickleDictKey: Hashable {
    case string(String)
    case int(Int64)

    /// The key as it appears in a flattened tensor name.
    var text: String {
        switch self {
        case .string(let string): string
        case .int(let value): String(value)
        }
    }
}

/// An insertion-ordered dictionary, as Python's `dict` and `OrderedDict` are.
struct PickleDict {
    private(set) var keys: [PickleDictKey] = []
    private(set) var values: [PickleDictKey: PickleValue] = [:]

    /// Sets `key` (keeping its first position when it is replaced, as Python does).
    mutating func set(_ key: PickleDictKey, _ value: PickleValue) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    subscript(key: String) -> PickleValue? { values[.string(key)] }

    var count: Int { keys.count }
}

/// The only globals a state-dict pickle may name. Anything else is refused when the GLOBAL opcode
/// is read, before any other byte is interpreted.
enum TorchGlobal: Equatable, CustomStringConvertible {
    case orderedDict
    case rebuildTensorV2
    case rebuildTensorV3
    case rebuildParameter
    case rebuildParameterWithState
    /// A storage class; `untyped` storages count bytes (`torch.UntypedStorage`).
    case storageType(DType, untyped: Bool)
    /// A dtype object (`torch.uint16`), the dtype argument of `_rebuild_tensor_v3`.
    case dtype(DType)

    /// The allowlisted global `module.name`, or `nil`.
    static func resolve(module: String, name: String) -> TorchGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"): return .storageType(.u8, untyped: true)
        default: break
        }
        // Tensors saved from a GPU name `torch.cuda.<Type>Storage`; only the dtype matters here.
        if module == "torch" || module == "torch.cuda", let dtype = storageDTypes[name] {
            return .storageType(dtype, untyped: false)
        }
        if module == "torch", let dtype = dtypeNames[name] { return .dtype(dtype) }
        return nil
    }

    private static let storageDTypes: [String: DType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    private static let dtypeNames: [String: DType] = [
        "float64": .f64, "double": .f64, "float32": .f32, "float": .f32, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16,
        "short": .i16, "int8": .i8, "uint8": .u8, "bool": .bool, "uint16": .u16, "uint32": .u32,
        "uint64": .u64, "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2,
    ]

    var description: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .storageType(let dtype, let untyped): untyped ? "torch.UntypedStorage" : "torch.\(dtype.rawValue) storage"
        case .dtype(let dtype): "torch dtype \(dtype.rawValue)"
        }
    }
}

/// A storage named by a persistent id `('storage', type, key, location, numel[, view])`.
struct TorchStorageReference: Equatable {
    /// The key of the stored bytes: `data/<key>` in a zip, a section of a legacy file.
    var key: String
    /// The element type of the storage class (`u8` for untyped storages).
    var dtype: DType
    /// Elements of the whole stored storage (bytes for untyped storages).
    var count: Int
    /// Legacy storage views: the element range of the stored storage that this reference covers.
    var view: Range<Int>?
}

/// What `_rebuild_tensor_v2`/`_v3` describe: a strided view of a storage.
struct TorchTensorRecord: Equatable {
    /// Index into the unpickler's storages.
    var storage: Int
    var dtype: DType
    var shape: [Int]
    /// Strides in elements of `dtype`.
    var strides: [Int]
    /// Offset of the first element, in elements of `dtype`, from the start of the storage reference.
    var offset: Int
}
