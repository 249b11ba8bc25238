import Foundation
import MGLanguage

/// Where an image of a message comes from.
enum ImageReference: Sendable, Equatable {
    /// The bytes of a `data:` URL.
    case inline([UInt8])
    /// A local file (`file://` URL), allowed only under ``ServerOptions/imageRoot``.
    case file(String)
}

/// One message of `messages`, its content parts flattened: text joined with newlines, images in order.
struct ChatMessage: Sendable {
    enum Role: String, Sendable { case system, user, assistant }
    var role: Role
    var text: String
    var images: [ImageReference]
}

/// A `POST /v1/chat/completions` body, validated field by field.
///
/// Accepted fields: `model`, `messages`, `stream`, `stream_options.include_usage`, `temperature`,
/// `top_p`, `max_tokens` / `max_completion_tokens`, `seed`, `stop`, `n` (1 only), and two
/// extensions: `top_k` and `ignore_eos`. Other OpenAI fields are ignored.
struct ChatCompletionRequest: Sendable {
    var model: String?
    var messages: [ChatMessage]
    var stream = false
    var includeUsageInStream = false
    var temperature: Float?
    var topP: Float?
    var topK: Int?
    var maxTokens: Int?
    var seed: UInt64?
    var stop: [String] = []
    /// vLLM's extension: keep generating past the end-of-sequence token (up to `max_tokens`).
    var ignoreEOS = false

    /// Parses and validates a body.
    /// - Parameter maximumImages: images allowed in the whole request (413 above it, checked
    ///   before any image is decoded).
    /// - Throws: ``APIError`` 400 naming the field at fault, or 413 for too many images.
    static func parse(_ body: [UInt8], maximumImages: Int) throws(APIError) -> ChatCompletionRequest {
        let root = try JSONFields(JSONValue.parse(body), path: "")
        guard case .array(let items)? = root.value("messages") else {
            throw root.value("messages") == nil
                ? .invalid("messages is required", param: "messages", code: "missing_field")
                : root.wrongType("messages", "an array")
        }
        guard !items.isEmpty else { throw .invalid("messages must not be empty", param: "messages") }
        var messages: [ChatMessage] = []
        var imageCount = 0
        for (index, item) in items.enumerated() {
            let message = try parseMessage(item, path: "messages[\(index)]")
            imageCount += message.images.count
            guard imageCount <= maximumImages else {
                throw .tooLarge("the request has more than \(maximumImages) images", param: "messages", code: "too_many_images")
            }
            messages.append(message)
        }
        var request = ChatCompletionRequest(model: try root.string("model"), messages: messages)
        request.stream = try root.bool("stream") ?? false
        if let options = root.value("stream_options") {
            request.includeUsageInStream = try JSONFields(options, path: "stream_options").bool("include_usage") ?? false
        }
        if let value = try root.number("temperature") {
            guard value >= 0, value <= 2 else { throw .invalid("temperature must be between 0 and 2, got \(value)", param: "temperature") }
            request.temperature = Float(value)
        }
        if let value = try root.number("top_p") {
            guard value > 0, value <= 1 else { throw .invalid("top_p must be in (0, 1], got \(value)", param: "top_p") }
            request.topP = Float(value)
        }
        if let value = try root.integer("top_k") {
            guard value >= 0, value <= 1_000_000 else { throw .invalid("top_k must be ≥ 0, got \(value)", param: "top_k") }
            request.topK = Int(value)
        }
        for key in ["max_tokens", "max_completion_tokens"] {
            if let value = try root.integer(key) {
                guard value >= 1, value <= Int64(Int32.max) else { throw .invalid("\(key) must be ≥ 1, got \(value)", param: key) }
                request.maxTokens = Int(value)
            }
        }
        if let value = try root.integer("seed") {
            guard value >= 0 else { throw .invalid("seed must be ≥ 0, got \(value)", param: "seed") }
            request.seed = UInt64(value)
        }
        request.ignoreEOS = try root.bool("ignore_eos") ?? false
        if let n = try root.integer("n"), n != 1 {
            throw .invalid("only n = 1 is supported, got \(n)", param: "n")
        }
        switch root.value("stop") {
        case nil: break
        case .string(let text)?: request.stop = [text]
        case .array(let values)?:
            guard values.count <= 4 else { throw .invalid("stop takes at most 4 strings", param: "stop") }
            for (index, value) in values.enumerated() {
                guard case .string(let text) = value else {
                    throw .invalid("stop[\(index)] must be a string, not \(value.typeName)", param: "stop", code: "invalid_type")
                }
                request.stop.append(text)
            }
        case let other?:
            throw .invalid("stop must be a string or an array of strings, not \(other.typeName)", param: "stop", code: "invalid_type")
        }
        guard request.stop.allSatisfy({ !$0.isEmpty }) else { throw .invalid("stop strings must not be empty", param: "stop") }
        return request
    }

    private static func parseMessage(_ value: JSONValue, path: String) throws(APIError) -> ChatMessage {
        let fields = try JSONFields(value, path: path)
        guard let roleName = try fields.string("role") else {
            throw .invalid("\(path).role is required", param: "\(path).role", code: "missing_field")
        }
        // OpenAI's newer name for the system role.
        guard let role = ChatMessage.Role(rawValue: roleName == "developer" ? "system" : roleName) else {
            throw .invalid("\(path).role must be system, user or assistant, not '\(roleName)'", param: "\(path).role")
        }
        var texts: [String] = []
        var images: [ImageReference] = []
        switch fields.value("content") {
        case .string(let text)?:
            texts.append(text)
        case .array(let parts)?:
            for (index, part) in parts.enumerated() {
                let partPath = "\(path).content[\(index)]"
                let partFields = try JSONFields(part, path: partPath)
                switch try partFields.string("type") {
                case "text":
                    guard let text = try partFields.string("text") else {
                        throw .invalid("\(partPath).text is required", param: "\(partPath).text", code: "missing_field")
                    }
                    texts.append(text)
                case "image_url":
                    guard role == .user else {
                        throw .invalid("only user messages may contain images", param: partPath)
                    }
                    images.append(try parseImageURL(partFields, path: partPath))
                case let other:
                    throw .invalid("\(partPath).type must be text or image_url, not \(other.map { "'\($0)'" } ?? "missing")", param: "\(partPath).type")
                }
            }
        case nil:
            throw .invalid("\(path).content is required", param: "\(path).content", code: "missing_field")
        case let other?:
            throw .invalid("\(path).content must be a string or an array of content parts, not \(other.typeName)", param: "\(path).content", code: "invalid_type")
        }
        return ChatMessage(role: role, text: texts.joined(separator: "\n"), images: images)
    }

    /// `{"type": "image_url", "image_url": {"url": …}}` (or the URL given directly as a string).
    private static func parseImageURL(_ part: JSONFields, path: String) throws(APIError) -> ImageReference {
        let url: String
        switch part.value("image_url") {
        case .string(let text)?: url = text
        case let object?: 
            guard let text = try JSONFields(object, path: "\(path).image_url").string("url") else {
                throw .invalid("\(path).image_url.url is required", param: "\(path).image_url.url", code: "missing_field")
            }
            url = text
        case nil:
            throw .invalid("\(path).image_url is required", param: "\(path).image_url", code: "missing_field")
        }
        let param = "\(path).image_url.url"
        if url.hasPrefix("data:") {
            guard let comma = url.firstIndex(of: ","), url[..<comma].hasSuffix(";base64") else {
                throw .invalid("\(param) must be a base64 data URL (data:image/png;base64,…)", param: param, code: "invalid_image")
            }
            // Foundation rejects whitespace and bad padding; both are client errors.
            guard let bytes = Data(base64Encoded: String(url[url.index(after: comma)...])) else {
                throw .invalid("\(param) holds invalid base64", param: param, code: "invalid_base64")
            }
            return .inline(Array(bytes))
        }
        if url.hasPrefix("file://") {
            return .file(String(url.dropFirst("file://".count)))
        }
        throw .invalid("\(param) must be a data: URL (or a file:// URL when the server allows them); remote URLs are not fetched", param: param, code: "invalid_image")
    }

    /// Sampling and stopping as `mgm run` chooses them for the same options: temperature 0.2 and
    /// top-k 50 when sampling (the official CLI's defaults), 512 new tokens, seed 0.
    func generationParameters() -> GenerationParameters {
        let temperature = temperature ?? 0.2
        return GenerationParameters(
            maximumTokens: maxTokens ?? 512, temperature: temperature, topK: temperature > 0 ? (topK ?? 50) : 0,
            topP: topP ?? 1, seed: seed ?? 0, stopStrings: stop, stopsAtEndOfSequence: !ignoreEOS)
    }
}
