// Mirrors how Mini-Gemini asks its language model for an image prompt: mgm/serve/cli.py (`--gen`)
// and `ModelWorker.add_content` in mgm/serve/model_worker.py.

/// The ` <GEN>` marker that switches a Mini-Gemini model into reasoning-generation mode.
///
/// No system prompt or example is involved: the fine-tuned checkpoints learned from
/// `mgm_generation_pure_text.json` to answer a request that ends in ` <GEN>` with a diffusion
/// prompt wrapped as `<h>…</h>` (see ``ImagePromptExtractor``).
///
/// ```swift
/// let userText = GenerationMarker.appending(to: "Draw a lighthouse in a storm")
/// // "Draw a lighthouse in a storm <GEN>"; render the conversation with it as the user turn.
/// ```
public enum GenerationMarker {
    /// The literal marker, leading space included.
    public static let marker = " <GEN>"

    /// The official CLI's rule: the marker is appended to the user's text before the turn is
    /// added to the conversation.
    ///
    /// In the CLI the order is: the user's text, then the OCR reference line (when `--ocr`), then
    /// this marker; the `<image>` placeholders are prepended afterwards (first turn only). Apply
    /// this function at the same point, before ``Conversation`` renders the prompt.
    public static func appending(to userText: String) -> String {
        userText + marker
    }

    /// The web worker's rule, a documented alternative: the marker is inserted into the already
    /// rendered prompt.
    ///
    /// - Prompts containing `[INST]` (Mistral): before the last `" [/INST]"`.
    /// - Prompts containing `<|im_end|>` (ChatML): before the last `"<|im_end|>"`.
    /// - Anything else: the worker searches for `"###Assistant:"`, which no official template
    ///   renders, so Python's `rfind` returns −1 and the marker lands before the prompt's last
    ///   character (Vicuna: `"… ASSISTANT <GEN>:"`). That quirk is reproduced, as is the same
    ///   fallback when a searched-for string is absent.
    ///
    /// Positions count Unicode scalars, as Python's `str` indexes code points.
    public static func inserting(intoRenderedPrompt prompt: String) -> String {
        let scalars = Array(prompt.unicodeScalars)
        let anchor: String
        if contains(scalars, "[INST]") {
            anchor = " [/INST]"
        } else if contains(scalars, "<|im_end|>") {
            anchor = "<|im_end|>"
        } else {
            anchor = "###Assistant:"
        }
        // Python: prompt[:i] + marker + prompt[i:], where i = -1 means "before the last character"
        // and for an empty prompt both halves are empty.
        let found = ScalarText.lastIndex(of: anchor, in: scalars)
        let split = found ?? max(0, scalars.count - 1)
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[..<split])
        result.append(contentsOf: marker.unicodeScalars)
        result.append(contentsOf: scalars[split...])
        return String(result)
    }

    private static func contains(_ scalars: [Unicode.Scalar], _ pattern: String) -> Bool {
        ScalarText.firstIndex(of: pattern, in: scalars, from: 0) != nil
    }
}

/// Substring search over Unicode scalars. Swift's `String` compares grapheme clusters, so a
/// combining mark after `>` would hide a tag from `range(of:)`; Python's `str.split` and `rfind`
/// work on code points, and so does this.
enum ScalarText {
    static func firstIndex(of pattern: String, in text: [Unicode.Scalar], from start: Int) -> Int? {
        let needle = Array(pattern.unicodeScalars)
        guard !needle.isEmpty, text.count >= needle.count else { return nil }
        var index = max(0, start)
        while index + needle.count <= text.count {
            if text[index] == needle[0], text[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    static func lastIndex(of pattern: String, in text: [Unicode.Scalar]) -> Int? {
        let needle = Array(pattern.unicodeScalars)
        guard !needle.isEmpty, text.count >= needle.count else { return nil }
        var index = text.count - needle.count
        while index >= 0 {
            if text[index] == needle[0], text[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index -= 1
        }
        return nil
    }

    /// Every non-overlapping occurrence of `pattern` at or after `start`, left to right (the split
    /// points of Python's `str.split`).
    static func allIndices(of pattern: String, in text: [Unicode.Scalar], from start: Int = 0) -> [Int] {
        let length = pattern.unicodeScalars.count
        var result: [Int] = []
        var position = start
        while let found = firstIndex(of: pattern, in: text, from: position) {
            result.append(found)
            position = found + length
        }
        return result
    }

    /// How many of the ascending `positions` are at most `limit` (a binary search).
    static func countNotAbove(_ limit: Int, in positions: ArraySlice<Int>) -> Int {
        var low = positions.startIndex, high = positions.endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if positions[middle] <= limit { low = middle + 1 } else { high = middle }
        }
        return low - positions.startIndex
    }

    static func string(_ text: [Unicode.Scalar], _ range: Range<Int>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text[range])
        return String(view)
    }
}
