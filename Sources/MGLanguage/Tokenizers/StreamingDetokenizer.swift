/// Turns generated token ids, one at a time, into text deltas whose concatenation equals
/// `tokenizer.decode(allIDs, skipSpecialTokens:)`.
///
/// The deltas never contain part of a character and never lose a word's leading space. Equality
/// with `decode` holds whenever decoding more ids only appends text. Two reference decoders
/// rewrite earlier text instead, and there the stream keeps what it returned and continues after
/// it: transformers' legacy Llama decoder, with special tokens kept, puts a space before the
/// text that precedes a special token (`"<s>Hello"` becomes `"<s> Hello </s>"`), and HF's
/// ByteFallback decoder turns a byte run that is not valid UTF-8 into U+FFFDs only.
///
/// ```swift
/// var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: true)
/// for id in generatedIDs { print(stream.append(id), terminator: "") }
/// print(stream.finish())
/// ```
///
/// Why not decode each token on its own: SentencePiece-style decoders remove the dummy-prefix
/// space only at the start of the *whole* text (`decode(["▁Hello", "▁world"])` is
/// `"Hello world"`), so decoding `▁world` alone gives `"world"` and every word boundary would be
/// lost. Byte-fallback and byte-level tokens also split one character over several ids, and
/// decoding a partial character yields U+FFFD. Decoding everything generated so far on every
/// step is correct but quadratic. Instead this keeps a short *anchor*: the last token already
/// emitted, whose own text is non-empty and complete. Each step decodes `anchor + pending ids`;
/// because the anchor is not at the start of that text any more than it was in the full text,
/// a leading "▁" of the next token is decoded as a space, exactly as in the full decode, and the
/// new text is whatever follows the anchor's text. Text ending in U+FFFD is held back until the
/// next id completes the character (or `finish()` flushes it). Special tokens are never used as
/// anchors: transformers' slow Llama decoder treats the token after a leading special token
/// differently from one in the middle of the text.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecialTokens: Bool
    /// Context ids (already emitted) followed by ids whose text is not fully emitted yet.
    private var window: [Int] = []
    /// The window's text (UTF-8) that has been returned.
    private var emitted: [UInt8] = []

    public init(tokenizer: any Tokenizer, skipSpecialTokens: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id and returns the text it completes (often empty while a character is incomplete).
    public mutating func append(_ id: Int) -> String {
        window.append(id)
        let (delta, complete) = newText(holdingBackReplacements: true)
        if complete { reanchor() }
        return delta
    }

    /// Returns any text still held back (replacement characters of an unfinished byte sequence)
    /// and starts over.
    public mutating func finish() -> String {
        defer { window.removeAll(); emitted.removeAll() }
        return newText(holdingBackReplacements: false).delta
    }

    /// Text of the window after what was emitted, and whether everything has now been emitted.
    private mutating func newText(holdingBackReplacements: Bool) -> (delta: String, complete: Bool) {
        let text = Array(tokenizer.decode(window, skipSpecialTokens: skipSpecialTokens).utf8)
        if !text.starts(with: emitted) {
            // The decoder rewrote text that was already returned; it cannot be taken back.
            // HF's ByteFallback turns a whole byte run into U+FFFDs while a character is incomplete:
            // wait for the next id, which usually restores the earlier text.
            if holdingBackReplacements, text.count >= 3, text.suffix(3).elementsEqual(UTF8Repair.replacement) {
                return ("", false)
            }
            // transformers' legacy Llama decoder inserts a space before the segment preceding a
            // special token: continue after the returned text's position in the new text.
            emitted = Self.realign(emitted, in: text)
        }
        var end = text.count
        // Trailing replacement characters may be a character still being spelt out byte by byte.
        while holdingBackReplacements, end >= emitted.count + 3,
            text[(end - 3)..<end].elementsEqual(UTF8Repair.replacement)
        {
            end -= 3
        }
        let delta = end > emitted.count ? String(decoding: text[emitted.count..<end], as: UTF8.self) : ""
        emitted = Array(text[..<max(end, emitted.count)])
        return (delta, end == text.count)
    }

    /// The prefix of `text` that corresponds to `emitted`: up to the end of the first occurrence of
    /// emitted's tail (what follows the common prefix), or the common prefix alone.
    private static func realign(_ emitted: [UInt8], in text: [UInt8]) -> [UInt8] {
        var common = zip(text, emitted).prefix { $0 == $1 }.count
        while common > 0, common < text.count, text[common] & 0xC0 == 0x80 { common -= 1 }
        let tail = emitted[common...]
        if !tail.isEmpty, tail.count <= text.count - common {
            for start in common...(text.count - tail.count) where text[start..<(start + tail.count)].elementsEqual(tail) {
                return Array(text[..<(start + tail.count)])
            }
        }
        return Array(text[..<common])
    }

    /// Keeps only the last id as context when it is a safe anchor (see the type's discussion).
    private mutating func reanchor() {
        guard window.count > 1, let last = window.last, !tokenizer.isSpecialToken(last) else { return }
        let anchorText = tokenizer.decode([last], skipSpecialTokens: skipSpecialTokens)
        guard !anchorText.isEmpty, !anchorText.unicodeScalars.contains("\u{FFFD}") else { return }
        window = [last]
        emitted = Array(anchorText.utf8)
    }
}
