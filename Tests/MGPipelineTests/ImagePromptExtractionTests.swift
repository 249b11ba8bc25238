import MGLanguage
import Testing
@testable import MGPipeline

/// The ` <GEN>` marker and the two official `<h>…</h>` extraction rules, batch and streamed.
/// Expected values were worked out by hand from the Python expressions in mgm/serve/cli.py
/// (`outputs.strip().split("</h>")[-2].split("<h>")[-1]`) and mgm/serve/model_worker.py
/// (`text.split("<h>")[1].split("</h>")[0]`).
@Suite("Reasoning generation: markers and extraction")
struct ImagePromptExtractionTests {
    @Test("the CLI appends ' <GEN>' to the user's text")
    func cliMarker() {
        #expect(GenerationMarker.appending(to: "Draw a red fox") == "Draw a red fox <GEN>")
        #expect(GenerationMarker.appending(to: "") == " <GEN>")
    }

    @Test("the worker inserts the marker into the rendered prompt, quirks included")
    func workerMarker() {
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "[INST] draw a fox [/INST]") == "[INST] draw a fox <GEN> [/INST]")
        // The last ' [/INST]' is used in a multi-turn Mistral prompt.
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "[INST] a [/INST] b</s>[INST] c [/INST]")
            == "[INST] a [/INST] b</s>[INST] c <GEN> [/INST]")
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
            == "<|im_start|>user\nhi <GEN><|im_end|>\n<|im_start|>assistant\n")
        // rfind finds the LAST '<|im_end|>', which here closes the user turn.
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
            == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi <GEN><|im_end|>\n<|im_start|>assistant\n")
        // Vicuna: '###Assistant:' is absent, rfind gives -1, the marker goes before the last character.
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "SYSTEM USER: draw a fox ASSISTANT:") == "SYSTEM USER: draw a fox ASSISTANT <GEN>:")
        // '[INST]' present but ' [/INST]' absent: the same -1 fallback.
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "[INST]x") == "[INST] <GEN>x")
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "") == " <GEN>")
        // Positions are code points: the last character is one scalar even after a combining mark.
        #expect(GenerationMarker.inserting(intoRenderedPrompt: "ae\u{301}") == "ae <GEN>\u{301}")
    }

    /// (answer, CLI prompt, worker prompt); nil means no prompt.
    static let cases: [(String, String?, String?)] = [
        ("Here is your image: <h>a red fox in snow</h>", "a red fox in snow", "a red fox in snow"),
        ("Sure. <h> a red fox, 4k </h> Enjoy!", " a red fox, 4k ", " a red fox, 4k "),
        // Several pairs: the CLI takes the last, the worker the first.
        ("<h>first</h> and then <h>second</h> done", "second", "first"),
        // Text between pairs is not a prompt for either rule.
        ("<h>one</h> two <h>three</h>", "three", "one"),
        // Nested opening tag: the CLI takes the text after the innermost, the worker up to the next opening.
        ("<h>outer <h>inner</h>", "inner", "outer "),
        // A stray closing tag after a pair: the CLI's piece between the two closings has no '<h>'.
        ("<h>a</h> b</h>", " b", "a"),
        // Closing before opening with nothing after: the CLI takes everything before the closing,
        // the worker everything after the opening (no closing follows it).
        ("lead</h> mid <h>tail", "lead", "tail"),
        // Multi-line answers keep their inner newlines.
        ("Plan:\n<h>a castle,\nfoggy</h>\n", "a castle,\nfoggy", "a castle,\nfoggy"),
    ]

    @Test("official rules over tricky answers", arguments: cases)
    func rules(answer: String, cli: String?, worker: String?) {
        #expect(ImagePromptExtractor.extract(from: answer, rule: .commandLine).prompt == cli)
        #expect(ImagePromptExtractor.extract(from: answer, rule: .webWorker).prompt == worker)
    }

    @Test("answers without a usable pair give a reason, not an error")
    func noPrompt() {
        let plain = ImagePromptExtractor.extract(from: "  A fox is a small canid.  ")
        #expect(plain.prompt == nil && plain.noPromptReason == .noTags)
        #expect(plain.displayText == "A fox is a small canid.")   // the CLI shows the stripped answer
        #expect(plain.textWithoutPrompt == plain.displayText)
        #expect(ImagePromptExtractor.extract(from: "<h>a fox running through").noPromptReason == .unclosed)
        #expect(ImagePromptExtractor.extract(from: "a fox</h>", rule: .webWorker).noPromptReason == .unopened)
        #expect(ImagePromptExtractor.extract(from: "<h></h>").noPromptReason == .emptyPrompt)
        #expect(ImagePromptExtractor.extract(from: "<h>  \n</h>", rule: .webWorker).noPromptReason == .emptyPrompt)
        // Misordered tags: the CLI's piece before the only closing is empty.
        #expect(ImagePromptExtractor.extract(from: "</h> x <h>").noPromptReason == .emptyPrompt)
        // The worker's segment after the opening tag runs to the end: " y".
        #expect(ImagePromptExtractor.extract(from: "</h> x <h> y", rule: .webWorker).prompt == " y")
        // Similar-looking tags are not tags.
        #expect(ImagePromptExtractor.extract(from: "<H>fox</H> <h >fox</ h>").noPromptReason == .noTags)
    }

    @Test("display text follows each entry point")
    func display() {
        let answer = "I will paint it. <h>a red fox</h> Hope you like it."
        let cli = ImagePromptExtractor.extract(from: "\n" + answer + " ", rule: .commandLine)
        #expect(cli.displayText == answer)
        #expect(cli.textWithoutPrompt == "I will paint it.  Hope you like it.")
        let worker = ImagePromptExtractor.extract(from: answer, rule: .webWorker)
        #expect(worker.displayText == "I will paint it. \nPrompt: a red fox\n")
        #expect(worker.answer == answer)
    }

    @Test("tags are matched on code points, as Python does")
    func scalars() {
        // '>' followed by a combining accent is one Swift Character but two Python code points.
        let answer = "<h>\u{301}café</h>"
        #expect(ImagePromptExtractor.extract(from: answer).prompt == "\u{301}café")
    }

    /// Splits `text` into chunks of the given sizes (in Unicode scalars), the rest in one chunk.
    static func chunks(_ text: String, sizes: [Int]) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var result: [String] = [], start = 0
        for size in sizes where start < scalars.count {
            let end = min(scalars.count, start + size)
            result.append(ScalarText.string(scalars, start..<end))
            start = end
        }
        if start < scalars.count { result.append(ScalarText.string(scalars, start..<scalars.count)) }
        return result
    }

    @Test("streamed chunks give the batch result for every split point, both rules")
    func streamingMatchesBatch() {
        for (answer, _, _) in Self.cases + [("<h>a fox", nil, nil), ("no tags", nil, nil), ("</h> x <h>", nil, nil)] {
            let length = answer.unicodeScalars.count
            for rule in [ImagePromptRule.commandLine, .webWorker] {
                let batch = ImagePromptExtractor.extract(from: answer, rule: rule)
                // Every single split point, plus one-scalar chunks (every tag split in all ways).
                var splits = (0...length).map { [$0] }
                splits.append(Array(repeating: 1, count: length))
                for sizes in splits {
                    var scanner = ImagePromptStreamScanner(rule: rule)
                    for chunk in Self.chunks(answer, sizes: sizes) { scanner.consume(chunk) }
                    #expect(scanner.finish() == batch, "rule \(rule), chunks \(sizes) of \(answer.debugDescription)")
                }
            }
        }
    }

    @Test("the scanner reports each prompt as its closing tag arrives")
    func streamingEvents() {
        var scanner = ImagePromptStreamScanner(rule: .commandLine)
        var reported: [String?] = []
        for chunk in ["Sure <", "h>a red", " fox</", "h> or <h", ">a blue", " bird<", "/h>!"] {
            reported.append(scanner.consume(.chunk(text: chunk, tokenIDs: [])))
            if chunk == " fox</" { #expect(scanner.isInsidePrompt) }
        }
        #expect(reported == [nil, nil, nil, "a red fox", nil, nil, "a blue bird"])
        #expect(scanner.latestPrompt == "a blue bird")
        #expect(!scanner.isPromptFinal && !scanner.isInsidePrompt)
        #expect(scanner.finish().prompt == "a blue bird")

        var worker = ImagePromptStreamScanner(rule: .webWorker)
        #expect(worker.consume("x <h>a red fox</h") == nil)
        #expect(!worker.isPromptFinal && worker.isInsidePrompt)
        #expect(worker.consume("> and <h>more</h>") == "a red fox")
        #expect(worker.isPromptFinal)
        #expect(worker.consume(" <h>later</h>") == nil)   // the first pair is final
        #expect(worker.finish().prompt == "a red fox")
        #expect(worker.accumulatedText == "x <h>a red fox</h> and <h>more</h> <h>later</h>")
    }
}
