import Foundation

/// The command line shared by both examples:
/// `[--model <folder>] [--image <file>] [--max-tokens <n>] [question …]`.
public struct ExampleArguments: Sendable {
    /// A Mini-Gemini checkpoint folder; nil for the bundled model.
    public var model: URL?
    /// An image file; nil for the bundled image.
    public var image: String?
    /// New tokens per answer at most.
    public var maximumTokens = 64
    /// Questions to ask; empty for the bundled scene's questions.
    public var questions: [String] = []

    /// Whether the run asks the bundled model the bundled questions about the bundled image, and
    /// so checks the answers.
    public var checksBundledAnswers: Bool { model == nil && image == nil && questions.isEmpty }

    public static let usage = "usage: [--model <folder>] [--image <file>] [--max-tokens <n>] [question …]"

    /// Parses `arguments` (without the program name).
    /// - Throws: ``ExampleError/usage(_:)`` for an unknown option or a missing value.
    public init(_ arguments: some Sequence<String>) throws {
        var rest = Array(arguments)[...]
        while let argument = rest.popFirst() {
            func value() throws -> String {
                guard let next = rest.popFirst() else { throw ExampleError.usage("\(argument) needs a value\n\(Self.usage)") }
                return next
            }
            switch argument {
            case "--model": model = URL(fileURLWithPath: try value())
            case "--image": image = try value()
            case "--max-tokens":
                let text = try value()
                guard let count = Int(text), count > 0 else { throw ExampleError.usage("--max-tokens \(text) is not a positive number") }
                maximumTokens = count
            case "-h", "--help": throw ExampleError.usage(Self.usage)
            default:
                guard !argument.hasPrefix("--") else { throw ExampleError.usage("unknown option \(argument)\n\(Self.usage)") }
                questions.append(argument)
            }
        }
    }

    /// The questions to ask: the given ones, or the bundled scene's.
    public var questionsToAsk: [String] {
        questions.isEmpty ? BundledScene.questions.map(\.question) : questions
    }
}
