import MGLanguage

/// Watches a streamed answer for `<h>…</h>` and reports each prompt as soon as its closing tag
/// arrives, however the tags are split across chunks.
///
/// Feed it the text of every ``/MGLanguage/GenerationEvent/chunk(text:tokenIDs:)``; call
/// ``finish()`` at the end for the authoritative result, which is always identical to
/// ``ImagePromptExtractor/extract(from:rule:)`` on the concatenated text.
///
/// With ``ImagePromptRule/webWorker`` the first completed pair is final, so a caller may start the
/// diffusion model before the answer ends (``isPromptFinal``). With
/// ``ImagePromptRule/commandLine`` a later pair replaces an earlier one, so each completed pair is
/// only a candidate until the stream ends.
///
/// ```swift
/// var scanner = ImagePromptStreamScanner(rule: .commandLine)
/// for try await event in generate(model: model, tokenizer: tokenizer, prompt: prompt) {
///     if case .chunk(let text, _) = event {
///         print(text, terminator: "")
///         if let candidate = scanner.consume(text) { log("prompt so far: \(candidate)") }
///     }
/// }
/// let result = scanner.finish()
/// ```
public struct ImagePromptStreamScanner: Sendable {
    /// The rule candidates and the final result follow.
    public let rule: ImagePromptRule
    /// The most recent prompt completed by a closing tag (under ``rule``), or nil.
    public private(set) var latestPrompt: String?
    /// True once a prompt can no longer change: a first pair under ``ImagePromptRule/webWorker``.
    public private(set) var isPromptFinal = false

    private var text: [Unicode.Scalar] = []
    private var openings: [Int] = []
    private var closings: [Int] = []
    /// Where the next tag search starts: tags found so far end before it, and a tag split across
    /// chunks begins at most `closingTag.count − 1` scalars before the end of the text.
    private var scanned = 0

    public init(rule: ImagePromptRule = .commandLine) {
        self.rule = rule
    }

    /// The whole text consumed so far.
    public var accumulatedText: String { ScalarText.string(text, 0..<text.count) }

    /// Whether the text has an opening tag that no closing tag follows yet — a front end may hide
    /// the prompt while it is being written.
    public var isInsidePrompt: Bool {
        guard let lastOpening = openings.last else { return false }
        return closings.last.map { $0 < lastOpening } ?? true
    }

    /// Appends a chunk. Returns the prompt completed by a closing tag in this chunk (the last one
    /// when several complete), or nil.
    @discardableResult
    public mutating func consume(_ chunk: String) -> String? {
        guard !chunk.isEmpty else { return nil }
        let previousClosings = closings.count
        text.append(contentsOf: chunk.unicodeScalars)
        let longest = max(ImagePromptExtractor.openingTag.unicodeScalars.count, ImagePromptExtractor.closingTag.unicodeScalars.count)
        let searchStart = max(scanned - (longest - 1), 0)
        for index in ScalarText.allIndices(of: ImagePromptExtractor.openingTag, in: text, from: searchStart)
        where openings.last.map({ index > $0 }) ?? true {
            openings.append(index)
        }
        for index in ScalarText.allIndices(of: ImagePromptExtractor.closingTag, in: text, from: searchStart)
        where closings.last.map({ index > $0 }) ?? true {
            closings.append(index)
        }
        scanned = text.count
        guard closings.count > previousClosings, !isPromptFinal else { return nil }
        return updateCandidate()
    }

    /// Appends the text of a generation event (``/MGLanguage/GenerationEvent/info(_:)`` adds nothing).
    @discardableResult
    public mutating func consume(_ event: GenerationEvent) -> String? {
        guard case .chunk(let chunk, _) = event else { return nil }
        return consume(chunk)
    }

    /// The result for the whole answer under ``rule`` (the same as the batch extractor).
    public func finish() -> ImagePromptExtraction {
        let answer = accumulatedText
        if rule == .commandLine {
            // The CLI rule strips the answer first, which shifts positions; rescan the whole text.
            return ImagePromptExtractor.extract(from: answer, rule: rule)
        }
        return ImagePromptExtractor.extract(answer: answer, text: text, openings: openings, closings: closings, rule: rule)
    }

    /// Applies the rule to the text up to the newest closing tag. Only the prompt is built (not
    /// the display texts), so a stream with many closing tags stays linear in its length.
    private mutating func updateCandidate() -> String? {
        guard let lastClosing = closings.last else { return nil }
        let prefixEnd = lastClosing + ImagePromptExtractor.closingTag.unicodeScalars.count
        let location = ImagePromptExtractor.locate(
            in: text, count: prefixEnd, openings: openings, closings: closings, rule: rule)
        guard case .found(let inner, _) = location else { return nil }
        let prompt = ScalarText.string(text, inner)
        if rule == .webWorker {
            // Later tags cannot change the worker's first pair once it is closed inside the
            // segment that ends at the second opening tag — which a later chunk cannot insert
            // before this closing tag.
            isPromptFinal = true
        }
        latestPrompt = prompt
        return prompt
    }
}
