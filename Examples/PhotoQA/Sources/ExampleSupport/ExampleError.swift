/// Why an example stopped.
public enum ExampleError: Error, CustomStringConvertible {
    /// A file of the repository was not found.
    case notFound(String)
    /// The command line could not be read.
    case usage(String)

    public var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .usage(let message): message
        }
    }
}
