import Foundation
import HTTPTypes
import Hummingbird
import MGLanguage
import MGPipeline

/// Generates the answer of a prepared request: one stream of events per request. The server
/// plugs in either the model's own `respond(to:)` or the continuous-batching scheduler.
protocol AnswerEngine: Sendable {
    func respond(_ model: MiniGemini, to request: MiniGeminiRequest) -> AsyncThrowingStream<MiniGeminiEvent, any Error>
}

/// Each request generates on its own task with its own KV cache (the model's `respond(to:)`).
struct IndependentEngine: AnswerEngine {
    func respond(_ model: MiniGemini, to request: MiniGeminiRequest) -> AsyncThrowingStream<MiniGeminiEvent, any Error> {
        model.respond(to: request)
    }
}

/// `POST /v1/chat/completions`.
struct ChatCompletions: Sendable {
    let model: MiniGemini
    let options: ServerOptions
    let slots: GenerationSlots
    let engine: any AnswerEngine

    func handle(_ request: Request, context: some RequestContext, requestID: String) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            // Collected into the request, so the connection can still be watched for its close below.
            body = try await request.collectBody(upTo: options.maximumBodyBytes)
        } catch {
            throw APIError.tooLarge("the request body is larger than \(options.maximumBodyBytes) bytes", code: "body_too_large")
        }
        let chat = try ChatCompletionRequest.parse(Array(buffer: body), maximumImages: model.limits.maximumImages)
        if let name = chat.model, name != options.modelID {
            throw APIError(status: .notFound, message: "the model '\(name)' does not exist; this server serves '\(options.modelID)'",
                           param: "model", code: "model_not_found")
        }
        let (answering, question) = try ChatConversion(model: model, imageRoot: options.imageRoot).convert(chat)
        try Self.preflight(question, on: answering)
        let completion = Completion(id: "chatcmpl-" + requestID, model: options.modelID, created: Int(Date().timeIntervalSince1970))

        let lease = try await SlotLease(slots)
        let events = engine.respond(answering, to: question)
        if chat.stream {
            return streamingResponse(events, lease: lease, completion: completion, includeUsage: chat.includeUsageInStream)
        }
        // A client that closes its connection cancels this task at once (not only when the answer
        // would be written): the event stream is dropped, which cancels the generation and frees
        // the slot and its cache at the next decode step.
        let (ids, finished) = try await request.body.consumeWithCancellationOnInboundClose { _ in
            var ids: [Int] = []
            var finished: MiniGeminiInfo?
            do {
                for try await event in events {
                    switch event {
                    case .chunk(_, let tokenIDs): ids += tokenIDs
                    case .finished(let info): finished = info
                    }
                }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw APIError(error)
            }
            return (ids, finished)
        }
        withExtendedLifetime(lease) {}
        guard let info = finished else { throw APIError(MiniGeminiError.cancelled) }
        var object = completion.object(kind: "chat.completion")
        object["choices"] = [[
            "index": 0, "message": ["role": "assistant", "content": answering.finalText(of: ids)],
            "finish_reason": Completion.finishReason(info.generation.stopReason), "logprobs": NSNull(),
        ] as [String: Any]]
        object["usage"] = Completion.usage(info)
        object["x_mgm"] = Completion.details(info, template: answering.template.name)
        // Watching for the close consumed the connection's inbound side, so Hummingbird closes it
        // after this response: say so, and the client opens a new one for its next request.
        return Response(status: .ok, headers: [.contentType: "application/json", .connection: "close"],
                        body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(object))))
    }

    /// Server-sent events: a role chunk, one chunk per text delta, a chunk with the finish reason
    /// (and the timings in `x_mgm`), the usage chunk when asked for, then `data: [DONE]`. A write
    /// that fails (the client went away) ends the loop, which drops the event stream and so
    /// cancels generation: the slot and the KV cache are freed at the next decode step.
    private func streamingResponse(
        _ events: AsyncThrowingStream<MiniGeminiEvent, any Error>, lease: SlotLease, completion: Completion, includeUsage: Bool
    ) -> Response {
        let template = model.template.name
        let body = ResponseBody { writer in
            defer { withExtendedLifetime(lease) {} }
            func send(_ object: Any) async throws {
                var line = Array("data: ".utf8)
                line += JSONBody.encode(object)
                line += Array("\n\n".utf8)
                try await writer.write(ByteBuffer(bytes: line))
            }
            func chunk(_ delta: [String: Any], finishReason: String? = nil) -> [String: Any] {
                var object = completion.object(kind: "chat.completion.chunk")
                object["choices"] = [["index": 0, "delta": delta, "finish_reason": finishReason ?? NSNull(), "logprobs": NSNull()] as [String: Any]]
                return object
            }
            try await send(chunk(["role": "assistant", "content": ""]))
            var started = false
            do {
                for try await event in events {
                    switch event {
                    case .chunk(var text, let ids):
                        // As the official demo shows it: no leading whitespace on the answer.
                        if !started { text = String(text.drop { $0.isWhitespace }) }
                        // A token whose text is not complete yet still gets its (empty) delta,
                        // so clients see one event per generated token.
                        guard !text.isEmpty || !ids.isEmpty else { continue }
                        started = started || !text.isEmpty
                        try await send(chunk(["content": text]))
                    case .finished(let info):
                        var last = chunk([:], finishReason: Completion.finishReason(info.generation.stopReason))
                        last["x_mgm"] = Completion.details(info, template: template)
                        try await send(last)
                        if includeUsage {
                            var usage = completion.object(kind: "chat.completion.chunk")
                            usage["choices"] = [Any]()
                            usage["usage"] = Completion.usage(info)
                            try await send(usage)
                        }
                    }
                }
            } catch let error where !(error is CancellationError) && !Task.isCancelled {
                // Headers are gone already: the error travels as the last event.
                try? await send(APIError(error).jsonObject)
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        // nginx would otherwise buffer the stream.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The checks of ``MiniGemini/prepare(_:tracing:)`` that need no vision work, run before any
    /// slot is taken so that a bad request gets its status code instead of a broken stream.
    static func preflight(_ request: MiniGeminiRequest, on model: MiniGemini) throws(APIError) {
        let limits = model.limits
        guard request.parameters.maximumTokens <= limits.maximumNewTokens else {
            throw .invalid("max_tokens is \(request.parameters.maximumTokens), above the limit of \(limits.maximumNewTokens)",
                           param: "max_tokens", code: "limit_exceeded")
        }
        for image in request.images {
            let side = max(image.width, image.height)
            let padded = side.multipliedReportingOverflow(by: side)
            guard !padded.overflow, padded.partialValue <= limits.maximumImagePixels else {
                throw APIError(MiniGeminiError.limitExceeded(what: "padded image pixels", value: padded.overflow ? Int.max : padded.partialValue, limit: limits.maximumImagePixels))
            }
        }
        let ids = tokenizeWithImagePlaceholders(model.promptText(for: request), tokenizer: model.tokenizer)
        let placeholders = ids.count { $0 == imagePlaceholderID }
        guard placeholders == request.images.count else {
            throw .invalid("the messages contain '<image>' text: \(placeholders) image placeholders for \(request.images.count) images", param: "messages")
        }
        let positions = ids.count - placeholders + placeholders * model.imageEncoder.tokensPerImage
        guard positions < model.contextLength else {
            throw APIError(MiniGeminiError.promptTooLong(tokens: positions, limit: model.contextLength))
        }
        do { try request.parameters.validate() } catch { throw .invalid("\(error)") }
    }
}

/// The fields every completion object shares, and the OpenAI renderings of the library's results.
struct Completion: Sendable {
    let id: String
    let model: String
    let created: Int

    func object(kind: String) -> [String: Any] {
        ["id": id, "object": kind, "created": created, "model": model, "system_fingerprint": "mgm-swift"]
    }

    static func finishReason(_ reason: StopReason) -> String {
        switch reason {
        case .stopToken, .stopString, .cancelled: "stop"
        case .maximumTokens, .contextFull: "length"
        }
    }

    static func usage(_ info: MiniGeminiInfo) -> [String: Int] {
        let generation = info.generation
        return ["prompt_tokens": generation.promptTokenCount, "completion_tokens": generation.generatedTokenCount,
                "total_tokens": generation.promptTokenCount + generation.generatedTokenCount]
    }

    /// An extension object (`x_mgm`) with what the web page shows: the rendered prompt and timings.
    static func details(_ info: MiniGeminiInfo, template: String) -> [String: Any] {
        let generation = info.generation
        return [
            "template": template, "prompt": info.prompt, "vision_seconds": info.visionSeconds, "prefill_seconds": generation.prefillSeconds,
            "time_to_first_token_seconds": info.visionSeconds + generation.prefillSeconds, "decode_seconds": generation.generationSeconds,
            "decode_tokens_per_second": generation.tokensPerSecond,
        ]
    }
}
