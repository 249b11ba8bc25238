import Foundation
import MGLanguage
import MGTestSupport
import Testing
@testable import MGPipeline

/// Answers and prompts are untrusted text: scanning a streamed answer for `<h>…</h>` and
/// tokenising a prompt around `<image>` must take time proportional to the text's length.
///
/// Each case times `n` and `4n` scalars of the same pattern; linear work grows 4×, quadratic 16×.
/// The bound of 8× leaves room for noise on a shared machine (best of three runs for the smaller
/// input, two for the larger).
@Suite struct PromptScalingTests {
    static func text(_ unit: String, scalars: Int) -> String { ScalingMeasurement.text(unit, scalars: scalars) }

    static func seconds(_ runs: Int, _ work: () -> Void) -> Double { ScalingMeasurement.seconds(runs, work) }

    /// Below this many seconds for the larger input, timer and scheduling noise dominate.
    static let noiseFloor = 0.05

    /// Streams `text` one scalar per chunk, as a model that emits one character per token would.
    static func stream(_ text: String, rule: ImagePromptRule) -> ImagePromptExtraction {
        var scanner = ImagePromptStreamScanner(rule: rule)
        for scalar in text.unicodeScalars { scanner.consume(String(scalar)) }
        return scanner.finish()
    }

    static let answers: [(name: String, unit: String)] = [
        ("plain text", "A fox in the snow. "),
        ("many pairs", "x<h>a fox</h>"),
        ("many closing tags", "ab</h>"),
        ("many opening tags", "ab<h>"),
        ("closings before an opening", "</h>"),
    ]

    @Test(arguments: [ImagePromptRule.commandLine, .webWorker])
    func streamingScanTimeGrowsLinearly(rule: ImagePromptRule) {
        for (name, unit) in Self.answers {
            let n = 4_000
            let small = Self.text(unit, scalars: n), large = Self.text(unit, scalars: 4 * n)
            let smallTime = Self.seconds(3) { _ = Self.stream(small, rule: rule) }
            let largeTime = Self.seconds(2) { _ = Self.stream(large, rule: rule) }
            let ratio = largeTime / max(smallTime, 1e-6)
            #expect(largeTime < Self.noiseFloor || ratio < 8,
                    "\(rule) / \(name): 4k scalars \(smallTime) s, 16k \(largeTime) s (×\(ratio))")
            #expect(Self.stream(large, rule: rule) == ImagePromptExtractor.extract(from: large, rule: rule))
        }
    }
}
