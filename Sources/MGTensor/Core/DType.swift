/// The element type of a tensor's storage.
///
/// Compute is always Float32; the other floating-point types are storage formats that are
/// converted on use (see ``Tensor/floats()``). The integer and boolean types exist so that every
/// tensor of a checkpoint can be described and validated, even the ones a model never computes with
/// (e.g. CLIP's `position_ids`).
public enum DType: String, Sendable, CaseIterable, Codable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"
    case f8e4m3 = "F8_E4M3"
    case f8e5m2 = "F8_E5M2"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: 1
        }
    }

    /// Whether tensors of this type can be read as Float32 for compute.
    public var isFloatingPointCompute: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }
}
