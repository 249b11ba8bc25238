/// Errors thrown by MGTensor for input-derived problems: shapes, dtypes and checkpoint files.
public enum TensorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A shape has a negative dimension or its element count overflows `Int`.
    case invalidShape([Int])
    /// The number of values does not match the shape.
    case elementCountMismatch(shape: [Int], count: Int)
    /// Two shapes that an operation needs to agree do not.
    case shapeMismatch(operation: String, [Int], [Int])
    /// An axis is outside the tensor's rank.
    case invalidAxis(operation: String, axis: Int, rank: Int)
    /// An argument is outside its valid range.
    case invalidArgument(operation: String, reason: String)
    /// The operation needs a dtype the tensor does not have.
    case unsupportedDType(operation: String, DType)
    /// An index (e.g. a token id in an embedding gather) is out of range.
    case indexOutOfRange(operation: String, index: Int, count: Int)

    public var description: String {
        switch self {
        case .invalidShape(let shape): "invalid shape \(shape)"
        case .elementCountMismatch(let shape, let count): "\(count) values do not fill shape \(shape)"
        case .shapeMismatch(let op, let a, let b): "\(op): shapes \(a) and \(b) do not match"
        case .invalidAxis(let op, let axis, let rank): "\(op): axis \(axis) is out of range for rank \(rank)"
        case .invalidArgument(let op, let reason): "\(op): \(reason)"
        case .unsupportedDType(let op, let dtype): "\(op): dtype \(dtype.rawValue) is not supported"
        case .indexOutOfRange(let op, let index, let count): "\(op): index \(index) is out of range 0..<\(count)"
        }
    }
}
