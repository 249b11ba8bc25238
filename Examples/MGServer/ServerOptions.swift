import Foundation

/// How `mgm serve` listens and what it accepts. Model-side limits (images per request, pixels,
/// prompt positions, new tokens) come from the model's ``MGPipeline/MiniGeminiLimits``.
public struct ServerOptions: Sendable {
    /// Address to bind; loopback unless asked otherwise.
    public var host: String
    /// Port; 0 picks a free one (printed once listening).
    public var port: Int
    /// When set, `/v1/*` requests must carry `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Requests generating at the same time (each with its own KV cache).
    public var maximumBatch: Int
    /// Requests allowed to wait for a slot; more get 429.
    public var maximumQueue: Int
    /// Longest wait for a slot before the request gets 503.
    public var queueTimeout: Duration
    /// Largest request body, in bytes (base64 images included); more gets 413.
    public var maximumBodyBytes: Int
    /// `file://` image URLs are allowed only for files under this folder (nil: never).
    public var imageRoot: URL?
    /// The id `/v1/models` lists and requests may name.
    public var modelID: String
    /// Continuous batching (one decode step for all active requests); false: each request decodes
    /// on its own task, as ``MGPipeline/MiniGemini/respond(to:)``.
    public var batching: Bool
    /// Prompt positions a newcomer prefills per scheduler iteration (batching only).
    public var prefillChunk: Int

    public init(
        host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, maximumBatch: Int = 8, maximumQueue: Int = 64,
        queueTimeout: Duration = .seconds(600), maximumBodyBytes: Int = 32 << 20, imageRoot: URL? = nil, modelID: String, batching: Bool = true, prefillChunk: Int = 64
    ) {
        self.queueTimeout = queueTimeout
        self.batching = batching
        self.prefillChunk = prefillChunk
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.maximumBatch = maximumBatch
        self.maximumQueue = maximumQueue
        self.maximumBodyBytes = maximumBodyBytes
        self.imageRoot = imageRoot
        self.modelID = modelID
    }
}
