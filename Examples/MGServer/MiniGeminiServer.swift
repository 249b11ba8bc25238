import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MGPipeline

/// `mgm serve`: an OpenAI-compatible HTTP server for one loaded ``MGPipeline/MiniGemini`` model.
///
/// Routes: `POST /v1/chat/completions`, `GET /v1/models`, `POST /v1/mining` (patch info mining
/// weights for the web page), `GET /health`, `GET /` (the web page). Documentation/Serving.md
/// describes the API, the limits and the error codes.
public struct MiniGeminiServer: Sendable {
    public let model: MiniGemini
    public let options: ServerOptions
    let slots: GenerationSlots
    let engine: any AnswerEngine

    public init(model: MiniGemini, options: ServerOptions) {
        self.model = model
        self.options = options
        slots = GenerationSlots(capacity: options.maximumBatch, queueLimit: options.maximumQueue, queueTimeout: options.queueTimeout)
        engine = options.batching
            ? BatchingEngine(languageModel: model.languageModel, prefillChunk: options.prefillChunk) : IndependentEngine()
    }

    /// The router with every route and middleware (also what the tests drive).
    public func makeRouter() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.add(middleware: RequestIDMiddleware())
        if let key = options.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        let completions = ChatCompletions(model: model, options: options, slots: slots, engine: engine)
        let mining = MiningWeights(model: model, options: options)
        let options = options
        let slots = slots
        let batching = engine as? BatchingEngine
        router.post("/v1/chat/completions") { request, context in
            try await completions.handle(request, context: context, requestID: context.requestID)
        }
        router.post("/v1/mining") { request, context in
            try await mining.handle(request, context: context)
        }
        router.get("/v1/models") { _, _ in
            let created = Int((try? FileManager.default.attributesOfItem(atPath: model.directory.path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
            let list: [String: Any] = ["object": "list", "data": [["id": options.modelID, "object": "model", "created": created, "owned_by": "mgm"] as [String: Any]]]
            return Self.json(list)
        }
        router.get("/health") { _, _ in
            let active = await slots.active
            let queued = await slots.queued
            var health: [String: Any] = ["status": "ok", "model": options.modelID, "active": active, "queued": queued, "max_batch": options.maximumBatch]
            if let batching { health["scheduler"] = batching.currentStatistics.jsonObject }
            return Self.json(health)
        }
        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        return router
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting connections and lets running requests finish.
    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        var logger = Logger(label: "mgm.serve")
        logger.logLevel = .warning
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "mgm"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(object))))
    }
}
