import MGFuzzSupport
import MGPipeline

// `<h>…</h>` extraction from a model's answer, whole and streamed: both official rules, and the
// streaming scanner fed the same text in chunks must agree with the whole-text extraction.
//
// Input: byte 0 sets the chunk length in characters (1...16); the rest is the answer as UTF-8.
FuzzDriver.run { bytes in
    guard let first = bytes.first else { return }
    let chunkLength = Int(first % 16) + 1
    let answer = String(decoding: bytes.dropFirst(), as: UTF8.self)
    for rule in [ImagePromptRule.commandLine, .webWorker] {
        let whole = ImagePromptExtractor.extract(from: answer, rule: rule)
        precondition((whole.prompt == nil) == (whole.noPromptReason != nil), "prompt and reason disagree")
        if whole.prompt != nil {
            // The tags are matched on code points, as Python does (`String.contains` would compare
            // grapheme clusters, and a combining mark after `>` hides a tag from it).
            let utf8 = Array(answer.utf8)
            precondition(utf8.firstRange(of: Array(ImagePromptExtractor.openingTag.utf8)) != nil
                && utf8.firstRange(of: Array(ImagePromptExtractor.closingTag.utf8)) != nil)
        } else {
            precondition(whole.displayText == whole.textWithoutPrompt)
        }
        var scanner = ImagePromptStreamScanner(rule: rule)
        var rest = Substring(answer)
        while !rest.isEmpty {
            _ = scanner.consume(String(rest.prefix(chunkLength)))
            rest = rest.dropFirst(chunkLength)
        }
        let streamed = scanner.finish()
        precondition(streamed.prompt == whole.prompt, "streamed prompt \(String(describing: streamed.prompt)) ≠ \(String(describing: whole.prompt))")
        precondition(streamed.noPromptReason == whole.noPromptReason)
    }
}
