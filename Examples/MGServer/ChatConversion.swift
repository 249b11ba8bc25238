import Foundation
import MGLanguage
import MGPipeline
import MGVision

/// Turns validated chat messages into a ``MiniGeminiRequest`` for a model.
///
/// - System messages (before the first user message) replace the template's system text; only
///   templates whose system text is plain prose take one.
/// - Consecutive messages of one role are joined with a newline; the conversation must then
///   alternate user / assistant and end with a user message.
/// - Every image of every user message goes with the first user message, as the official CLI
///   attaches images (`<image>` lines before the first question, `Image k:` labels for several).
struct ChatConversion {
    let model: MiniGemini
    let imageRoot: URL?

    /// The model to answer with (the same one, or a copy with another system text) and the request.
    /// - Throws: ``APIError`` 400 for a conversation the template cannot render or an image that
    ///   is not an image, 413 for images above the pixel limit.
    func convert(_ chat: ChatCompletionRequest) throws(APIError) -> (model: MiniGemini, request: MiniGeminiRequest) {
        var system: String?
        var turns: [(role: ChatMessage.Role, text: String)] = []
        var images: [ImageReference] = []
        for message in chat.messages {
            images += message.images
            if message.role == .system {
                guard turns.isEmpty else { throw .invalid("system messages must come before the conversation", param: "messages") }
                system = system.map { $0 + "\n" + message.text } ?? message.text
                continue
            }
            if let last = turns.last, last.role == message.role {
                turns[turns.count - 1].text += "\n" + message.text
            } else {
                turns.append((message.role, message.text))
            }
        }
        guard turns.first?.role == .user else { throw .invalid("the conversation must start with a user message", param: "messages") }
        guard turns.last?.role == .user else { throw .invalid("the last message must be a user message", param: "messages") }
        var history: [(user: String, assistant: String)] = []
        for index in stride(from: 0, to: turns.count - 1, by: 2) {
            history.append((turns[index].text, turns[index + 1].text))
        }
        let decoded = try images.map { (reference) throws(APIError) in try decode(reference) }
        let request = MiniGeminiRequest(question: turns[turns.count - 1].text, images: decoded, history: history, parameters: chat.generationParameters())
        return (try answering(model, system: system), request)
    }

    private func answering(_ model: MiniGemini, system: String?) throws(APIError) -> MiniGemini {
        guard let system, system != model.template.system else { return model }
        let template = model.template
        guard !template.system.contains("<") else {
            throw .invalid("the '\(template.name)' template has a fixed system prompt; remove the system message", param: "messages")
        }
        let custom = ConversationTemplate(
            name: template.name, system: system, roles: template.roles, prefilledMessages: template.prefilledMessages, style: template.style,
            separator: template.separator, secondSeparator: template.secondSeparator, version: template.version)
        return MiniGemini(
            directory: model.directory, configuration: model.configuration, tokenizer: model.tokenizer, languageModel: model.languageModel,
            imageEncoder: model.imageEncoder, template: custom, limits: model.limits)
    }

    private func decode(_ reference: ImageReference) throws(APIError) -> RGBImage {
        let decoder = ImageDecoder(maximumPixels: model.limits.maximumImagePixels)
        do {
            switch reference {
            case .inline(let bytes):
                return try decoder.decode(bytes)
            case .file(let path):
                guard let root = imageRoot else {
                    throw APIError.invalid("file:// image URLs are disabled (start the server with --image-root)", param: "messages", code: "invalid_image")
                }
                let file = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath()
                let folder = root.standardizedFileURL.resolvingSymlinksInPath().path
                guard file.path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/") else {
                    throw APIError.invalid("file:// image URLs must name a file under the server's image root", param: "messages", code: "invalid_image")
                }
                return try decoder.decode(contentsOf: file)
            }
        } catch let error as APIError {
            throw error
        } catch let error as VisionError {
            throw APIError(MiniGeminiError.vision(error))
        } catch {
            throw APIError(error)
        }
    }
}
