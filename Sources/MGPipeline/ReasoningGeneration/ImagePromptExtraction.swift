// Mirrors the `<h>…</h>` handling at the end of mgm/serve/cli.py (`--gen`) and of
// `ModelWorker.generate_stream` in mgm/serve/model_worker.py.

/// Which of the two official extraction rules to apply to a model's answer.
public enum ImagePromptRule: Sendable, Hashable {
    /// mgm/serve/cli.py: the answer is stripped of surrounding whitespace, split on `"</h>"`, and
    /// the prompt is the second-to-last piece after its last `"<h>"` — for well-formed answers
    /// the last complete pair. The user sees the whole answer, markers included.
    case commandLine
    /// mgm/serve/model_worker.py: the prompt is the text after the first `"<h>"` up to the
    /// following `"</h>"` (the first pair). The user sees the text before the first `"<h>"`,
    /// then `"\nPrompt: "`, the prompt and `"\n"`.
    case webWorker
}

/// Why an answer yielded no diffusion prompt. Both official paths only run the diffusion model
/// when the answer contains `"<h>"` and `"</h>"` somewhere.
public enum NoImagePromptReason: Sendable, Hashable {
    /// Neither tag appears: an ordinary answer.
    case noTags
    /// `"<h>"` appears but no `"</h>"` (e.g. generation stopped at the token limit).
    case unclosed
    /// `"</h>"` appears but no `"<h>"`.
    case unopened
    /// Both tags appear but the rule extracts only whitespace (e.g. `"</h> … <h>"` in that order,
    /// or `"<h></h>"`). The official code would render an empty prompt; we report it instead.
    case emptyPrompt
}

/// The outcome of scanning an answer for a diffusion prompt: the prompt (or why there is none)
/// and the text to show the user. Not finding a prompt is a normal result, not an error.
public struct ImagePromptExtraction: Sendable, Hashable {
    /// The answer as given (before the command-line rule's strip).
    public var answer: String
    /// The extracted prompt exactly as the official code cuts it (inner spaces kept), or nil.
    public var prompt: String?
    /// Set when ``prompt`` is nil.
    public var noPromptReason: NoImagePromptReason?
    /// What the official entry point shows: the stripped answer for ``ImagePromptRule/commandLine``;
    /// for ``ImagePromptRule/webWorker`` the text before the first `<h>` plus `"\nPrompt: …\n"`
    /// when a prompt was found, else the answer.
    public var displayText: String
    /// The answer with the extracted pair removed and the prompt itself left out: what a
    /// front end that renders the image next to the reply would show. Equal to ``displayText``
    /// when there is no prompt.
    public var textWithoutPrompt: String

    /// Whether a prompt was found.
    public var hasPrompt: Bool { prompt != nil }
}

/// Finds the diffusion prompt in a Mini-Gemini answer, with either official rule.
///
/// ```swift
/// let result = ImagePromptExtractor.extract(from: answer)          // the CLI's rule
/// if let prompt = result.prompt {
///     let image = try await generator.generate(ImageGenerationRequest(prompt: prompt))
/// } else {
///     print(result.displayText)                                    // a plain answer
/// }
/// ```
///
/// Tags are matched on Unicode scalars, as Python's `str.split` matches code points.
public enum ImagePromptExtractor {
    public static let openingTag = "<h>"
    public static let closingTag = "</h>"

    /// Applies `rule` to a complete answer (the decoded text, as `generateText` or the stream of
    /// ``/MGLanguage/GenerationEvent/chunk(text:tokenIDs:)`` events returns it).
    public static func extract(from answer: String, rule: ImagePromptRule = .commandLine) -> ImagePromptExtraction {
        let text: [Unicode.Scalar]
        switch rule {
        case .commandLine: text = Array(pythonStripped(answer).unicodeScalars)
        case .webWorker: text = Array(answer.unicodeScalars)
        }
        let openings = ScalarText.allIndices(of: openingTag, in: text)
        let closings = ScalarText.allIndices(of: closingTag, in: text)
        return extract(answer: answer, text: text, openings: openings, closings: closings, rule: rule)
    }

    /// The shared core, also used by ``ImagePromptStreamScanner`` with tag positions it found
    /// incrementally. `openings` and `closings` are every occurrence, ascending.
    static func extract(
        answer: String, text: [Unicode.Scalar], openings: [Int], closings: [Int], rule: ImagePromptRule
    ) -> ImagePromptExtraction {
        let whole = ScalarText.string(text, 0..<text.count)
        let inner: Range<Int>, pair: Range<Int>
        switch locate(in: text, count: text.count, openings: openings, closings: closings, rule: rule) {
        case .none(let reason):
            return ImagePromptExtraction(
                answer: answer, prompt: nil, noPromptReason: reason, displayText: whole, textWithoutPrompt: whole)
        case .found(let promptRange, let pairRange):
            (inner, pair) = (promptRange, pairRange)
        }
        let prompt = ScalarText.string(text, inner)
        let before = ScalarText.string(text, 0..<pair.lowerBound)
        let after = ScalarText.string(text, pair.upperBound..<text.count)
        let display: String
        switch rule {
        case .commandLine: display = whole
        case .webWorker: display = ScalarText.string(text, 0..<openings[0]) + "\nPrompt: " + prompt + "\n"
        }
        return ImagePromptExtraction(
            answer: answer, prompt: prompt, noPromptReason: nil, displayText: display, textWithoutPrompt: before + after)
    }

    /// Where `rule` finds the prompt.
    enum Location: Equatable {
        /// `inner` is the prompt; `pair` the scalar range removed for `textWithoutPrompt`.
        case found(inner: Range<Int>, pair: Range<Int>)
        case none(NoImagePromptReason)
    }

    /// Applies `rule` to the first `count` scalars of `text`, given every tag position there
    /// (ascending; openings that do not fit in `count` are ignored). Costs the prompt's length
    /// plus a logarithm of the tag counts, never the whole text, so the streaming scanner can
    /// ask again at every closing tag.
    static func locate(
        in text: [Unicode.Scalar], count: Int, openings allOpenings: [Int], closings: [Int], rule: ImagePromptRule
    ) -> Location {
        let open = openingTag.unicodeScalars.count, close = closingTag.unicodeScalars.count
        let openings = allOpenings[..<ScalarText.countNotAbove(count - open, in: allOpenings[...])]
        switch (openings.isEmpty, closings.isEmpty) {
        case (true, true): return .none(.noTags)
        case (false, true): return .none(.unclosed)
        case (true, false): return .none(.unopened)
        case (false, false): break
        }
        let inner: Range<Int>, pair: Range<Int>
        switch rule {
        case .commandLine:
            // split("</h>")[-2]: the piece ending at the last closing tag; then split("<h>")[-1].
            let end = closings[closings.count - 1]
            let pieceStart = closings.count >= 2 ? closings[closings.count - 2] + close : 0
            let before = ScalarText.countNotAbove(end - open, in: openings)
            if before > 0, openings[before - 1] >= pieceStart {
                inner = (openings[before - 1] + open)..<end
                pair = openings[before - 1]..<(end + close)
            } else {
                inner = pieceStart..<end
                pair = pieceStart..<(end + close)
            }
        case .webWorker:
            // split("<h>")[1]: from the first opening to the second (or the end); then split("</h>")[0].
            let start = openings[0] + open
            let segmentEnd = openings.count >= 2 ? openings[1] : count
            // Only the first closing at or after `start` can end inside the segment.
            let first = ScalarText.countNotAbove(start - 1, in: closings[...])
            if first < closings.count, closings[first] + close <= segmentEnd {
                inner = start..<closings[first]
                pair = openings[0]..<(closings[first] + close)
            } else {
                inner = start..<segmentEnd
                pair = openings[0]..<segmentEnd
            }
        }
        guard text[inner].contains(where: { !$0.properties.isWhitespace }) else { return .none(.emptyPrompt) }
        return .found(inner: inner, pair: pair)
    }

    /// Python's `str.strip()` without arguments: leading and trailing Unicode whitespace removed
    /// (Python also strips the four ASCII separators U+001C…U+001F, which White_Space lacks).
    static func pythonStripped(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return ScalarText.string(scalars, first..<(last + 1))
    }
}
