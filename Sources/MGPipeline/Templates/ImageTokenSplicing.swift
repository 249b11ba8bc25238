import MGLanguage
import MGTensor

/// The id the official code gives the `<image>` placeholder in a token sequence
/// (`IMAGE_TOKEN_INDEX`); it never reaches the embedding table.
public let imagePlaceholderID = -200

/// The placeholder text for one image in a prompt.
public let imagePlaceholderText = "<image>"

/// Tokenises a rendered prompt the way the official `tokenizer_image_token` does
/// (MGM repo: mgm/mm_utils.py): the text is split on `<image>`, every piece is tokenised on its
/// own as a fresh string (so word-initial handling restarts after each image), and the pieces are
/// joined with one ``imagePlaceholderID`` each. When the first piece starts with BOS, BOS is kept
/// once and the first token of *every* piece is dropped — the official code assumes each piece
/// starts with BOS.
///
/// ```swift
/// let ids = tokenizeWithImagePlaceholders("USER: <image>\nWhat is it? ASSISTANT:", tokenizer: tokenizer)
/// // [1, …"USER:"…, -200, …"\nWhat is it? ASSISTANT:"…]
/// ```
public func tokenizeWithImagePlaceholders(_ prompt: String, tokenizer: any Tokenizer) -> [Int] {
    let pieces = prompt.components(separatedBy: imagePlaceholderText).map { tokenizer.encode($0, addSpecialTokens: true) }
    var ids: [Int] = []
    var offset = 0
    if let first = pieces.first?.first, first == tokenizer.bosTokenID {
        offset = 1
        ids.append(first)
    }
    for (index, piece) in pieces.enumerated() {
        if index > 0 { ids.append(imagePlaceholderID) }
        ids.append(contentsOf: piece.dropFirst(offset))
    }
    return ids
}

/// Builds the language model's input rows: the text ids embedded in one call, with each
/// ``imagePlaceholderID`` replaced by the rows of the next image's visual tokens
/// (`prepare_inputs_labels_for_multimodal` in MGM repo: mgm/model/mgm_arch.py).
/// - Parameters:
///   - ids: prompt ids with placeholders.
///   - visualTokens: one `[tokens, hidden]` (or `[1, tokens, hidden]`) tensor per placeholder, in order.
///   - embed: the model's embedding lookup.
/// - Returns: `[T − placeholders + Σ tokens, hidden]`.
/// - Throws: ``MiniGeminiError/invalidRequest(_:)`` when the placeholder and image counts
///   differ, and the errors of `embed` and of the tensor operations.
public func spliceVisualTokens(
    ids: [Int], visualTokens: [Tensor], embed: ([Int]) throws(LanguageModelError) -> Tensor
) throws(MiniGeminiError) -> Tensor {
    let placeholders = ids.count { $0 == imagePlaceholderID }
    guard placeholders == visualTokens.count else {
        throw .invalidRequest("the prompt has \(placeholders) <image> placeholders for \(visualTokens.count) images")
    }
    let textIDs = ids.filter { $0 != imagePlaceholderID }
    let text: Tensor
    do { text = try embed(textIDs) } catch { throw .language(error) }
    guard !visualTokens.isEmpty else { return text }
    let hidden = text.shape.last ?? 0
    do throws(TensorError) {
        var segments: [Tensor] = []
        var textRow = 0
        var imageIndex = 0
        var runStart = 0
        for (position, id) in ids.enumerated() where id == imagePlaceholderID {
            let runLength = position - runStart
            if runLength > 0 { segments.append(try slice(text, axis: 0, range: textRow..<(textRow + runLength))) }
            textRow += runLength
            let image = visualTokens[imageIndex]
            guard image.shape.last == hidden, image.count % max(hidden, 1) == 0 else {
                throw TensorError.shapeMismatch(operation: "splice", image.shape, [hidden])
            }
            segments.append(try image.reshaped([image.count / hidden, hidden]).asFloat32())
            imageIndex += 1
            runStart = position + 1
        }
        if textRow < textIDs.count { segments.append(try slice(text, axis: 0, range: textRow..<textIDs.count)) }
        return try concat(segments, axis: 0)
    } catch {
        throw .tensor(error)
    }
}
