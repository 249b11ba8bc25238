import ArgumentParser
import Foundation
import MGHub
import MGPipeline
import MGServer

/// `mgm serve`: an OpenAI-compatible HTTP server with a web page (Documentation/Serving.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a Mini-Gemini checkpoint over an OpenAI-compatible HTTP API, with a web page at /.",
        discussion: "Without --model, the bundled scenes model (Models/MGM-Scenes) is served. Stop with Ctrl-C (SIGINT) or SIGTERM.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the address is printed once listening).")
    var port = 8080

    @Option(help: "Require 'Authorization: Bearer KEY' on /v1/ requests (also read from MGM_API_KEY).")
    var apiKey: String?

    @Option(help: "Requests generating at the same time. The load-time memory check counts this many requests, each with its own KV cache for --max-context positions.")
    var maxBatch = 8

    @Option(help: "Requests that may wait for a slot before the server answers 429.")
    var maxQueue = 64

    @Option(help: "Seconds a request may wait for a slot before the server answers 503.")
    var queueTimeout = 600.0

    @Option(help: "Largest request body in bytes (base64 images included).")
    var maxBodyBytes = 32 << 20

    @Option(help: "Allow file:// image URLs for files under this folder.")
    var imageRoot: String?

    @Option(help: "The model id clients name (default: the checkpoint folder's name).")
    var modelID: String?

    @Flag(help: "Decode each request on its own task instead of batching all active requests into one step.")
    var noBatching = false

    @Option(help: "Prompt positions a newcomer prefills between two decode steps of the others.")
    var prefillChunk = 64

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535") }
        guard queueTimeout > 0, queueTimeout.isFinite else { throw ValidationError("--queue-timeout must be positive") }
        guard prefillChunk >= 1 else { throw ValidationError("--prefill-chunk must be at least 1") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1") }
        guard maxQueue >= 0, maxBodyBytes >= 1024 else { throw ValidationError("--max-queue must be ≥ 0 and --max-body-bytes ≥ 1024") }
    }

    func run() async throws {
        let loaded: ModelOptions.Loaded
        do {
            loaded = try await modelOptions.load(progress: nil, concurrentSequences: maxBatch)
        } catch {
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            if case MiniGeminiError.limitExceeded(let what, _, _)? = error as? MiniGeminiError, what.hasPrefix("estimated memory") {
                FileHandle.standardError.write(Data("mgm: the estimate counts --max-batch \(maxBatch) requests at once; lower --max-batch or --max-context\n".utf8))
            }
            throw ExitCode((error as? MiniGeminiError)?.exitCode ?? (error as? HubError)?.exitCode ?? 1)
        }
        let options = ServerOptions(
            host: host, port: port, apiKey: apiKey ?? ProcessInfo.processInfo.environment["MGM_API_KEY"], maximumBatch: maxBatch,
            maximumQueue: maxQueue,
            queueTimeout: .milliseconds(Int64(queueTimeout * 1000)), maximumBodyBytes: maxBodyBytes, imageRoot: imageRoot.map { URL(fileURLWithPath: $0) },
            modelID: modelID ?? loaded.name, batching: !noBatching, prefillChunk: prefillChunk)
        let host = host
        try await MiniGeminiServer(model: loaded.model, options: options).run { port in
            // Scripts wait for this line (and read the port from it when started with --port 0).
            FileHandle.standardOutput.write(Data("mgm serve: listening on http://\(host):\(port) (model \(options.modelID))\n".utf8))
        }
    }
}
