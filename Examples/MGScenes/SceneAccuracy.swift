import Foundation

/// Accuracy per question type, as the scenes evaluation reports it (`Tools/eval_scenes.py` counts
/// the same way: a reply is correct when, trimmed of surrounding whitespace, it equals the answer).
///
/// ```swift
/// var accuracy = SceneAccuracy()
/// for question in scene.questions {
///     accuracy.record(question, reply: try await model.answer(question.question, about: scene.image))
/// }
/// print(accuracy.table)
/// ```
public struct SceneAccuracy: Sendable, Equatable {
    /// Questions asked, per type.
    public private(set) var asked: [SceneQuestionType: Int] = [:]
    /// Questions answered correctly, per type.
    public private(set) var correct: [SceneQuestionType: Int] = [:]

    public init() {}

    /// Whether `reply` answers `question` (surrounding whitespace ignored, otherwise exact).
    public static func isCorrect(_ reply: String, for question: SceneQuestion) -> Bool {
        reply.trimmingCharacters(in: .whitespacesAndNewlines) == question.answer
    }

    /// Counts one reply; returns whether it was correct.
    @discardableResult
    public mutating func record(_ question: SceneQuestion, reply: String) -> Bool {
        let right = Self.isCorrect(reply, for: question)
        asked[question.type, default: 0] += 1
        if right { correct[question.type, default: 0] += 1 }
        return right
    }

    /// The fraction correct for `type`, or `nil` when none was asked.
    public func accuracy(_ type: SceneQuestionType) -> Double? {
        guard let count = asked[type], count > 0 else { return nil }
        return Double(correct[type, default: 0]) / Double(count)
    }

    /// One line per asked type: `digit   362/400   90.50 %`.
    public var table: String {
        SceneQuestionType.allCases.compactMap { type -> String? in
            guard let value = accuracy(type) else { return nil }
            let name = type.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            let counts = "\(correct[type, default: 0])/\(asked[type, default: 0])"
            let percent = (value * 10000).rounded() / 100
            return "\(name) \(counts.padding(toLength: 10, withPad: " ", startingAt: 0)) \(percent) %"
        }.joined(separator: "\n")
    }
}
