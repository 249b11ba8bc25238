import Foundation

/// Writes to standard output at once (no buffering), so streamed text appears as it is generated.
public func write(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Compares answers with the bundled scene's expected answers and reports the outcome.
public struct AnswerCheck {
    private var mismatches: [String] = []
    private var checked = 0

    public init() {}

    /// Records `answer` to `question`; a question the bundled scene does not list is not checked.
    public mutating func record(question: String, answer: String) {
        guard let expected = BundledScene.questions.first(where: { $0.question == question })?.answer else { return }
        checked += 1
        if answer != expected { mismatches.append("\"\(question)\": expected \"\(expected)\", got \"\(answer)\"") }
    }

    /// Prints the outcome and exits with status 1 when an answer was wrong.
    public func finish() -> Never {
        if mismatches.isEmpty {
            write("all \(checked) answers are correct\n")
            exit(0)
        }
        FileHandle.standardError.write(Data(("wrong answers:\n" + mismatches.joined(separator: "\n") + "\n").utf8))
        exit(1)
    }
}

/// Runs an example's body, printing any error and exiting with status 2.
public func runExample(_ body: @Sendable () async throws -> Void) async {
    do {
        try await body()
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        exit(2)
    }
}
