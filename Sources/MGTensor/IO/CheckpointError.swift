/// Errors reading or writing checkpoint files. Every malformed input maps to one case that names
/// the file and, where it applies, the tensor and byte offsets involved.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    case fileNotFound(path: String)
    case ioFailure(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path): "\(path): no such file"
        case .ioFailure(let path, let reason): "\(path): \(reason)"
        }
    }
}
