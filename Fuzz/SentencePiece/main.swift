import MGFuzzSupport
import MGLanguage

// A SentencePiece `ModelProto` (`tokenizer.model`); a model that loads must then tokenize.
let samples = ["", "Hello world", " <s> USER: <image>\nWhat is it?</s>", "naïve 日本語 🙂\u{0}\t  x"]
FuzzDriver.run { bytes in
    guard let model = try? SentencePieceModel(bytes: Array(bytes)) else { return }
    for text in samples { _ = model.decode(model.encode(text)) }
    guard let tokenizer = try? SentencePieceTokenizer(model: model) else { return }
    for text in samples {
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        _ = tokenizer.decode(ids, skipSpecialTokens: true)
    }
    _ = tokenizer.decode([-1, 0, 1, 2, tokenizer.vocabularySize, Int.max], skipSpecialTokens: false)
}
