import MGFuzzSupport
import MGLanguage

// An HF `tokenizer.json`; a tokenizer that loads must then encode and decode without trapping.
let samples = ["", "Hello world", " <s> USER: <image>\nWhat is it?</s>", "naïve 日本語 🙂\u{0}\t  x", "<unk><|endoftext|>"]
FuzzDriver.run { bytes in
    guard let tokenizer = try? TokenizerJSON(json: Array(bytes)) else { return }
    for text in samples {
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        _ = tokenizer.decode(ids, skipSpecialTokens: false)
        _ = tokenizer.decode(ids, skipSpecialTokens: true)
    }
    _ = tokenizer.decode([-1, 0, 1, 2, 3, tokenizer.vocabularySize, Int.max], skipSpecialTokens: false)
    for id in 0..<min(tokenizer.vocabularySize, 64) { _ = tokenizer.token(for: id) }
}
