import Foundation
import MGFuzzSupport
import MGLanguage
import MGPipeline
import MGTensor

// Prompt building as `MiniGemini` does it, with arbitrary text and image counts: template
// rendering, `<image>` lines and labels, tokenisation around placeholders (SentencePiece and
// byte-level BPE), and splicing visual rows into the embedded text.
//
// Input: byte 0 picks the template, byte 1 the number of images (0...7), byte 2 the visual rows
// per image (1...4, bits 0–1) and the tokenizer (bit 2); the rest is UTF-8 text whose
// U+0001-separated parts are history turns (user, assistant, …) and, last, the question.
// One tokenizer per input rather than both: tokenising the rendered prompt is most of the cost
// under ASan, and libFuzzer's coverage feedback tells the two paths apart anyway.
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Tests/MGLanguageTests/Fixtures").standardizedFileURL
let tokenizers: [any Tokenizer] = [
    try SentencePieceTokenizer(modelURL: fixtures.appendingPathComponent("tokenizer_sp_bpe.model")),
    try TokenizerJSON(url: fixtures.appendingPathComponent("tokenizer_bytelevel.json")),
]
let templates = ConversationTemplate.registered.keys.sorted().compactMap { ConversationTemplate.named($0) }
let hidden = 4

/// A `[rows, hidden]` tensor of `values`; the shape is built from the values' own count.
func matrix(_ values: [Float]) -> Tensor {
    guard let tensor = try? Tensor(shape: [values.count / hidden, hidden], values: values) else { fatalError("matrix") }
    return tensor
}

FuzzDriver.run { bytes in
    guard bytes.count >= 3 else { return }
    let template = templates[Int(bytes[0]) % templates.count]
    let imageCount = Int(bytes[1] % 8)
    let rowsPerImage = Int(bytes[2] % 4) + 1
    let tokenizer = tokenizers[Int(bytes[2] >> 2) % tokenizers.count]
    let parts = String(decoding: bytes.dropFirst(3), as: UTF8.self).components(separatedBy: "\u{1}")

    var conversation = Conversation(template: template)
    for (index, part) in parts.enumerated() {
        let text = index == 0 ? Conversation.userText(question: part, imageCount: imageCount) : part
        conversation.append(index % 2 == 0 ? .user : .assistant, text)
    }
    if parts.count % 2 == 0 { conversation.append(.user, "?") }
    conversation.appendPendingAssistant()
    let prompt = Conversation.labelingImages(in: conversation.prompt())

    let images = (0..<imageCount).map { index in matrix((0..<(rowsPerImage * hidden)).map { Float(index * 100 + $0) }) }
    let ids = tokenizeWithImagePlaceholders(prompt, tokenizer: tokenizer)
    let placeholders = ids.count { $0 == imagePlaceholderID }
    precondition(placeholders == prompt.components(separatedBy: imagePlaceholderText).count - 1)
    precondition(ids.allSatisfy { $0 == imagePlaceholderID || (0..<tokenizer.vocabularySize).contains($0) })
    let spliced = try? spliceVisualTokens(ids: ids, visualTokens: images) { textIDs throws(LanguageModelError) in
        matrix(textIDs.flatMap { id in Array(repeating: Float(-1 - id), count: hidden) })
    }
    if placeholders == imageCount {
        guard let spliced else { fatalError("splicing failed with matching counts") }
        precondition(spliced.shape == [ids.count - placeholders + imageCount * rowsPerImage, hidden])
    } else {
        precondition(spliced == nil, "splicing accepted \(imageCount) images for \(placeholders) placeholders")
    }
    _ = tokenizer.decode(ids.filter { $0 != imagePlaceholderID }, skipSpecialTokens: true)
}
