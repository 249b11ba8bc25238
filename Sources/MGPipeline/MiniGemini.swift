import Foundation
import MGLanguage
import MGTensor
import MGVision

/// A loaded Mini-Gemini model: ask it questions about zero or more images.
///
/// Load once (``init(directory:options:)``), then call ``respond(to:)`` for a stream of text or
/// ``answer(_:)`` for the whole answer. The model is immutable and `Sendable`: share one instance
/// between concurrent requests; each request has its own KV cache, freed when it ends.
///
/// ```swift
/// let model = try MiniGemini(directory: URL(fileURLWithPath: "MGM-2B"))
/// let photo = try model.decodeImage(contentsOf: URL(fileURLWithPath: "photo.jpg"))
/// let request = MiniGeminiRequest(question: "What is unusual about this image?", images: [photo], parameters: .greedy)
/// for try await event in model.respond(to: request) {
///     if case .chunk(let text, _) = event { print(text, terminator: "") }
/// }
/// ```
public final class MiniGemini: Sendable {
    /// The checkpoint folder.
    public let directory: URL
    public let configuration: MiniGeminiConfiguration
    public let tokenizer: any Tokenizer
    public let languageModel: DecoderModel
    /// Images → visual token rows.
    public let imageEncoder: ImageEncoder
    /// The conversation template prompts are rendered with.
    public var template: ConversationTemplate { templateChoice.template }
    /// The template and why it was chosen (see ``TemplateSelection``).
    public let templateChoice: TemplateChoice
    public let limits: MiniGeminiLimits

    /// Assembles a model from loaded parts (``init(directory:options:)`` is the usual way).
    public convenience init(
        directory: URL, configuration: MiniGeminiConfiguration, tokenizer: any Tokenizer, languageModel: DecoderModel,
        imageEncoder: ImageEncoder, template: ConversationTemplate, limits: MiniGeminiLimits = .init()
    ) {
        self.init(
            directory: directory, configuration: configuration, tokenizer: tokenizer, languageModel: languageModel,
            imageEncoder: imageEncoder, templateChoice: TemplateChoice(template: template, reason: "given by the caller", source: .explicit),
            limits: limits)
    }

    /// Assembles a model from loaded parts with a template choice that records its reason.
    public init(
        directory: URL, configuration: MiniGeminiConfiguration, tokenizer: any Tokenizer, languageModel: DecoderModel,
        imageEncoder: ImageEncoder, templateChoice: TemplateChoice, limits: MiniGeminiLimits = .init()
    ) {
        self.directory = directory
        self.configuration = configuration
        self.tokenizer = tokenizer
        self.languageModel = languageModel
        self.imageEncoder = imageEncoder
        self.templateChoice = templateChoice
        self.limits = limits
        // Chooses the kernel tier (and logs it, once per process) at the first model assembled.
        _ = KernelTier.active
    }

    /// The most prompt positions (text plus visual tokens) a request may use.
    public var contextLength: Int {
        min(limits.maximumPromptPositions ?? Int.max, languageModel.configuration.maximumPositions)
    }

    /// Decodes an image file within the configured pixel limit.
    /// - Throws: ``MiniGeminiError/vision(_:)`` for unreadable, corrupt, truncated or oversized images.
    public func decodeImage(contentsOf url: URL) throws(MiniGeminiError) -> RGBImage {
        do { return try ImageDecoder(maximumPixels: limits.maximumImagePixels).decode(contentsOf: url) } catch { throw .vision(error) }
    }

    /// The visual token rows of each image (`[tokens, hidden]`), for
    /// ``MiniGeminiRequest/visualTokens``.
    /// - Throws: ``MiniGeminiError/cancelled`` and the errors of the vision side.
    public func encodeImages(_ images: [RGBImage]) throws(MiniGeminiError) -> [Tensor] {
        var rows: [Tensor] = []
        for image in images { rows.append(try imageEncoder.encode(image)) }
        return rows
    }

    /// The prompt text of a request, rendered as the official CLI renders it: images as
    /// `"<image>\n"` lines before the first user message, `"Image k:"` labels when there are
    /// several, then the template.
    public func promptText(for request: MiniGeminiRequest) -> String {
        var conversation = Conversation(template: template)
        let imageCount = request.images.count
        var isFirst = true
        func user(_ text: String) -> String {
            defer { isFirst = false }
            return isFirst ? Conversation.userText(question: text, imageCount: imageCount) : text
        }
        for turn in request.history {
            conversation.append(.user, user(turn.user))
            conversation.append(.assistant, turn.assistant)
        }
        conversation.append(.user, user(request.question))
        conversation.appendPendingAssistant()
        return Conversation.labelingImages(in: conversation.prompt())
    }

    /// Everything up to the language model: the rendered prompt, its ids and the spliced input rows.
    /// - Parameters:
    ///   - request: the question, images (or their ``MiniGeminiRequest/visualTokens``), history
    ///     and parameters.
    ///   - tracing: keep every image's intermediate tensors (for dumps; memory-hungry).
    /// - Throws: ``MiniGeminiError/limitExceeded(what:value:limit:)``,
    ///   ``MiniGeminiError/promptTooLong(tokens:limit:)``, ``MiniGeminiError/cancelled`` and the
    ///   errors of the vision side.
    public func prepare(_ request: MiniGeminiRequest, tracing: Bool = false) throws(MiniGeminiError) -> PreparedPrompt {
        guard request.images.count <= limits.maximumImages else {
            throw .limitExceeded(what: "images per request", value: request.images.count, limit: limits.maximumImages)
        }
        guard request.parameters.maximumTokens <= limits.maximumNewTokens else {
            throw .limitExceeded(what: "new tokens", value: request.parameters.maximumTokens, limit: limits.maximumNewTokens)
        }
        // Preprocessing pads to a square first, so a thin image costs its longer side squared.
        for image in request.images {
            let side = max(image.width, image.height)
            let padded = side.multipliedReportingOverflow(by: side)
            guard !padded.overflow, padded.partialValue <= limits.maximumImagePixels else {
                throw .limitExceeded(what: "padded image pixels", value: padded.overflow ? Int.max : padded.partialValue, limit: limits.maximumImagePixels)
            }
        }
        let text = promptText(for: request)
        let ids = tokenizeWithImagePlaceholders(text, tokenizer: tokenizer)
        let placeholders = ids.count { $0 == imagePlaceholderID }
        guard placeholders == request.images.count else {
            throw .invalidRequest("the prompt has \(placeholders) <image> placeholders for \(request.images.count) images")
        }
        let positions = ids.count - placeholders + placeholders * imageEncoder.tokensPerImage
        guard positions < contextLength else { throw .promptTooLong(tokens: positions, limit: contextLength) }

        let start = DispatchTime.now().uptimeNanoseconds
        var rows: [Tensor] = []
        var traces: [ImageEncodingTrace] = []
        if let given = request.visualTokens, !tracing {
            guard given.count == request.images.count else {
                throw .invalidRequest("\(given.count) precomputed visual token sets for \(request.images.count) images")
            }
            rows = given
        } else {
            for image in request.images {
                if tracing {
                    let (encoded, trace) = try imageEncoder.encodeTracing(image)
                    rows.append(encoded)
                    traces.append(trace)
                } else {
                    rows.append(try imageEncoder.encode(image))
                }
            }
        }
        let visionSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let model = languageModel
        let embeddings = try spliceVisualTokens(ids: ids, visualTokens: rows) { (ids) throws(LanguageModelError) in try model.embed(ids: ids) }
        return PreparedPrompt(text: text, inputIDs: ids, embeddings: embeddings, traces: traces, visionSeconds: visionSeconds)
    }

    /// Streams the answer to a request.
    ///
    /// Vision and prefill run on a detached task; cancelling the consuming task (or dropping the
    /// stream) stops the work within one vision stage or one decode step and frees the request's
    /// KV cache. The last event is ``MiniGeminiEvent/finished(_:)`` unless an error ends the stream.
    public func respond(to request: MiniGeminiRequest) -> AsyncThrowingStream<MiniGeminiEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    let prepared = try prepare(request)
                    let stream = generate(
                        model: languageModel, tokenizer: tokenizer,
                        prompt: .embeddings(prepared.embeddings, tokenIDs: prepared.inputIDs.filter { $0 != imagePlaceholderID }),
                        parameters: request.parameters)
                    for try await event in stream {
                        switch event {
                        case .chunk(let text, let ids):
                            continuation.yield(.chunk(text: text, tokenIDs: ids))
                        case .info(let info):
                            continuation.yield(.finished(MiniGeminiInfo(
                                prompt: prepared.text, inputIDs: prepared.inputIDs, visionSeconds: prepared.visionSeconds, generation: info)))
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The whole answer to a request (text as the official CLI prints it: special tokens removed,
    /// surrounding whitespace trimmed).
    /// - Throws: the errors of ``prepare(_:tracing:)`` and of generation.
    public func answer(_ request: MiniGeminiRequest) async throws -> MiniGeminiAnswer {
        var ids: [Int] = []
        var info: MiniGeminiInfo?
        for try await event in respond(to: request) {
            switch event {
            case .chunk(_, let tokenIDs):
                ids += tokenIDs
            case .finished(let finished):
                info = finished
            }
        }
        guard let info else { throw MiniGeminiError.cancelled }
        return MiniGeminiAnswer(text: finalText(of: ids), tokenIDs: ids, info: info)
    }

    /// The answer text of generated ids as the official CLI computes it:
    /// `batch_decode(ids, skip_special_tokens=True)` of the whole sequence, trimmed. It can differ
    /// from the concatenated stream in one corner: a run of byte tokens that is not valid UTF-8
    /// decodes as a whole (tokenizers' ByteFallback replaces every byte of such a run), while a
    /// stream has already shown its valid leading characters.
    public func finalText(of ids: [Int]) -> String {
        tokenizer.decode(ids, skipSpecialTokens: true).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
