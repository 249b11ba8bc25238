/// Shape arithmetic shared by tensors and checkpoint readers.
public enum Shape {
    /// The number of elements of `shape`, or `nil` when a dimension is negative or the product
    /// overflows `Int`.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Row-major strides (in elements) of `shape`.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= shape[axis]
        }
        return strides
    }

    /// Resolves a possibly negative axis (`-1` is the last) against `rank`.
    public static func normalizedAxis(_ axis: Int, rank: Int, operation: String) throws(TensorError) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw .invalidAxis(operation: operation, axis: axis, rank: rank)
        }
        return resolved
    }
}
