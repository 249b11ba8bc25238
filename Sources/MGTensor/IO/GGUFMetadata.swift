/// One metadata value of a GGUF file, in the type the file declares (GGUF `gguf_metadata_value_type`).
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// An array of values of one element type (`elementType` is kept so an empty array round-trips).
    case array(elementType: GGUFValueType, [GGUFValue])

    /// The declared type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value as an integer when it is one of the integer types (and fits `Int`).
    public var integer: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value as a float when it is a floating-point type.
    public var float: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: nil
        }
    }

    /// The string, when the value is one.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// The metadata value types of GGUF version 3, with their on-disk ids.
public enum GGUFValueType: UInt32, Sendable, Equatable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value of a fixed-size type (nil for strings and arrays).
    var fixedByteCount: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// The element type of a GGUF tensor: a plain float or integer dtype, or GGML quantized blocks.
public enum GGUFTensorType: Sendable, Equatable {
    case plain(DType)
    case quantized(QuantizationFormat)

    /// The GGML type id (`ggml_type`) written in tensor infos.
    public var ggmlType: UInt32 {
        switch self {
        case .quantized(let format): format.rawValue
        case .plain(let dtype):
            switch dtype {
            case .f32: 0
            case .f16: 1
            case .i8: 24
            case .i16: 25
            case .i32: 26
            case .i64: 27
            case .f64: 28
            case .bf16: 30
            default: UInt32.max
            }
        }
    }

    /// The type of GGML id `id`, or nil for ids this reader does not know (the i-quants, the
    /// ternary and FP4 formats, removed ids).
    public init?(ggmlType id: UInt32) {
        switch id {
        case 0: self = .plain(.f32)
        case 1: self = .plain(.f16)
        case 24: self = .plain(.i8)
        case 25: self = .plain(.i16)
        case 26: self = .plain(.i32)
        case 27: self = .plain(.i64)
        case 28: self = .plain(.f64)
        case 30: self = .plain(.bf16)
        default:
            guard let format = QuantizationFormat(rawValue: id) else { return nil }
            self = .quantized(format)
        }
    }

    /// GGML's name (`F32`, `Q4_K`, …).
    public var name: String {
        switch self {
        case .plain(let dtype): dtype.rawValue
        case .quantized(let format): format.name
        }
    }

    /// Bytes of a tensor with `columns` innermost values and `count` values in all, or nil when the
    /// rows are not whole blocks or the size overflows.
    func byteCount(columns: Int, count: Int) -> Int? {
        switch self {
        case .plain(let dtype):
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            return overflow ? nil : bytes
        case .quantized(let format):
            guard let rowBytes = format.rowByteCount(columns: columns) else { return nil }
            let (bytes, overflow) = (count / columns).multipliedReportingOverflow(by: rowBytes)
            return overflow ? nil : bytes
        }
    }
}
