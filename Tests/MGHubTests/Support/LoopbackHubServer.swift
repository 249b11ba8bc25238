import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A Hugging Face Hub on 127.0.0.1 for the tests: the endpoints `huggingface_hub` and ``HubClient``
/// use, over files held in memory, plus a second port standing in for the CDN that LFS files
/// redirect to (another origin, so the token must not follow).
///
/// - `GET /api/models/{repo}/revision/{rev}` — `sha` and `siblings` (with sizes, blob ids and
///   `lfs` when `?blobs=true`);
/// - `GET /api/models/{repo}/tree/{rev}` — the tree listing `huggingface_hub` ≥ 1.x reads;
/// - `HEAD|GET /{repo}/resolve/{rev}/{path}` — `X-Repo-Commit`, `ETag` (git sha1) for regular files;
///   for LFS files (`.safetensors`, `.bin`, `.model`) a 302 to the CDN port with `X-Linked-Etag`
///   (sha256) and `X-Linked-Size`;
/// - `HEAD|GET /cdn/{sha256}` on the CDN port; `Range: bytes=N-` everywhere;
/// - faults: cut a file's body after N bytes (once), or serve it with one byte flipped;
/// - a log of every request.
final class LoopbackHubServer: @unchecked Sendable {
    /// One repository: a single commit holding `files`.
    struct Repository {
        var id: String
        var commit: String
        var files: [String: Data]
    }

    /// A request as the server saw it.
    struct LoggedRequest: Sendable, CustomStringConvertible {
        var method: String
        var uri: String
        var range: String?
        var authorization: String?
        var onCDN: Bool
        var description: String { "\(method) \(onCDN ? "[cdn]" : "")\(uri)\(range.map { " Range: \($0)" } ?? "")" }
    }

    enum Fault {
        /// Send the headers for the whole (remaining) body, then only `bytes` bytes, and close.
        case cut(afterBytes: Int, times: Int)
        /// Flip one byte in the middle of every response body of the file.
        case corrupt
    }

    private let lock = NSLock()
    private var repositories: [String: Repository] = [:]
    private var faults: [String: Fault] = [:]
    private var requests: [LoggedRequest] = []
    private let group: MultiThreadedEventLoopGroup
    private var channels: [any Channel] = []
    private(set) var hubPort = 0
    private(set) var cdnPort = 0

    /// `http://127.0.0.1:<port>`, for `HF_ENDPOINT`.
    var endpoint: String { "http://127.0.0.1:\(hubPort)" }

    private init() {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Starts both ports (ephemeral) serving `repositories`.
    static func start(_ repositories: [Repository]) async throws -> LoopbackHubServer {
        let server = LoopbackHubServer()
        for repository in repositories { server.repositories[repository.id] = repository }
        do {
            let hub = try await server.bind(cdn: false)
            let cdn = try await server.bind(cdn: true)
            server.channels = [hub, cdn]
            server.hubPort = hub.localAddress?.port ?? 0
            server.cdnPort = cdn.localAddress?.port ?? 0
        } catch {
            try? await server.group.shutdownGracefully()
            throw error
        }
        return server
    }

    func stop() async {
        for channel in channels { try? await channel.close().get() }
        try? await group.shutdownGracefully()
    }

    /// Applies `fault` to every response carrying the content of `path` (any repository).
    func inject(_ fault: Fault?, path: String) {
        lock.withLock { faults[path] = fault }
    }

    /// Every request so far.
    var log: [LoggedRequest] { lock.withLock { requests } }

    /// Forgets the log.
    func clearLog() { lock.withLock { requests.removeAll() } }

    // MARK: - Serving

    private func bind(cdn: Bool) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HubRequestHandler(server: self, onCDN: cdn))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// What to send for one request.
    struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body = Data()
        /// Close the connection after this many body bytes.
        var cutAfter: Int?
    }

    func reply(method: HTTPMethod, uri: String, headers: HTTPHeaders, onCDN: Bool) -> Reply {
        let range = headers.first(name: "Range")
        lock.withLock {
            requests.append(LoggedRequest(method: "\(method)", uri: uri, range: range, authorization: headers.first(name: "Authorization"), onCDN: onCDN))
        }
        let pathPart = String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        let query = uri.contains("?") ? String(uri.split(separator: "?", maxSplits: 1)[1]) : ""
        let segments = pathPart.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        if onCDN {
            guard segments.count == 2, segments[0] == "cdn", let blob = lock.withLock({ findBlob(sha256: segments[1]) }) else {
                return Reply(status: .notFound)
            }
            return content(blob.1, path: blob.0, range: range, method: method, extra: [("ETag", "\"\(segments[1])\"")])
        }
        if segments.count >= 5, segments[0] == "api", segments[1] == "models" {
            let repositoryID = "\(segments[2])/\(segments[3])"
            let kind = segments[4]
            let revision = segments.count > 5 ? segments[5] : "main"
            guard let repository = lock.withLock({ repositories[repositoryID] }) else { return error(404, "RepoNotFound") }
            guard revision == "main" || revision == repository.commit else { return error(404, "RevisionNotFound") }
            if kind == "revision" { return json(modelInfo(repository, blobs: query.contains("blobs=true"))) }
            if kind == "tree" { return json(tree(repository)) }
            return Reply(status: .notFound)
        }
        if segments.count >= 5, segments[2] == "resolve" {
            let repositoryID = "\(segments[0])/\(segments[1])"
            let revision = segments[3]
            let path = segments[4...].joined(separator: "/")
            guard let repository = lock.withLock({ repositories[repositoryID] }) else { return error(404, "RepoNotFound") }
            guard revision == "main" || revision == repository.commit else { return error(404, "RevisionNotFound") }
            guard let data = repository.files[path] else {
                var reply = error(404, "EntryNotFound")
                reply.headers.append(("X-Repo-Commit", repository.commit))
                return reply
            }
            if Self.isLFS(path) {
                let sha = Self.sha256(data)
                return Reply(status: .found, headers: [
                    ("Location", "http://127.0.0.1:\(cdnPort)/cdn/\(sha)"), ("X-Repo-Commit", repository.commit),
                    ("X-Linked-Etag", "\"\(sha)\""), ("X-Linked-Size", "\(data.count)"), ("ETag", "\"\(Self.gitSHA1(Self.pointer(data)))\""),
                    ("Content-Length", "0"),
                ])
            }
            return content(data, path: path, range: range, method: method, extra: [("ETag", "\"\(Self.gitSHA1(data))\""), ("X-Repo-Commit", repository.commit)])
        }
        return Reply(status: .notFound)
    }

    private func content(_ data: Data, path: String, range: String?, method: HTTPMethod, extra: [(String, String)]) -> Reply {
        var start = 0
        var status = HTTPResponseStatus.ok
        var headers = extra + [("Accept-Ranges", "bytes")]
        if let range, range.hasPrefix("bytes="), let dash = range.firstIndex(of: "-") {
            let first = Int(range[range.index(range.startIndex, offsetBy: 6)..<dash]) ?? 0
            guard first < data.count else {
                return Reply(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(data.count)"), ("Content-Length", "0")])
            }
            start = first
            status = .partialContent
            headers.append(("Content-Range", "bytes \(first)-\(data.count - 1)/\(data.count)"))
        }
        var body = data.subdata(in: start..<data.count)
        headers.append(("Content-Length", "\(body.count)"))
        guard method == .GET else { return Reply(status: status, headers: headers) }
        var cut: Int?
        lock.withLock {
            switch faults[path] {
            case .cut(let after, let times)?:
                cut = after
                faults[path] = times > 1 ? .cut(afterBytes: after, times: times - 1) : nil
            case .corrupt?:
                if !body.isEmpty {
                    let middle = body.startIndex + body.count / 2
                    body[middle] ^= 0x5A
                }
            case nil: break
            }
        }
        return Reply(status: status, headers: headers, body: body, cutAfter: cut)
    }

    private func error(_ status: Int, _ code: String) -> Reply {
        let body = Data("{\"error\":\"\(code)\"}".utf8)
        return Reply(status: HTTPResponseStatus(statusCode: status), headers: [("X-Error-Code", code), ("Content-Type", "application/json"), ("Content-Length", "\(body.count)")], body: body)
    }

    private func json(_ object: Any) -> Reply {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Reply(status: .ok, headers: [("Content-Type", "application/json"), ("Content-Length", "\(body.count)")], body: body)
    }

    private func modelInfo(_ repository: Repository, blobs: Bool) -> [String: Any] {
        let siblings: [[String: Any]] = repository.files.keys.sorted().map { path in
            guard blobs, let data = repository.files[path] else { return ["rfilename": path] }
            var sibling: [String: Any] = ["rfilename": path, "size": data.count]
            if Self.isLFS(path) {
                sibling["blobId"] = Self.gitSHA1(Self.pointer(data))
                sibling["lfs"] = ["sha256": Self.sha256(data), "size": data.count, "pointerSize": Self.pointer(data).count]
            } else {
                sibling["blobId"] = Self.gitSHA1(data)
            }
            return sibling
        }
        return ["id": repository.id, "modelId": repository.id, "sha": repository.commit, "private": false, "siblings": siblings]
    }

    private func tree(_ repository: Repository) -> [[String: Any]] {
        repository.files.keys.sorted().compactMap { path in
            guard let data = repository.files[path] else { return nil }
            var entry: [String: Any] = ["type": "file", "path": path, "size": data.count]
            if Self.isLFS(path) {
                entry["oid"] = Self.gitSHA1(Self.pointer(data))
                entry["lfs"] = ["oid": Self.sha256(data), "size": data.count, "pointerSize": Self.pointer(data).count]
            } else {
                entry["oid"] = Self.gitSHA1(data)
            }
            return entry
        }
    }

    /// Called with the lock held.
    private func findBlob(sha256: String) -> (String, Data)? {
        for repository in repositories.values {
            for (path, data) in repository.files where Self.isLFS(path) && Self.sha256(data) == sha256 { return (path, data) }
        }
        return nil
    }

    static func isLFS(_ path: String) -> Bool {
        path.hasSuffix(".safetensors") || path.hasSuffix(".bin") || path.hasSuffix(".model")
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

    static func gitSHA1(_ data: Data) -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: Data("blob \(data.count)\0".utf8))
        hasher.update(data: data)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// The git-lfs pointer file git stores for an LFS file.
    static func pointer(_ data: Data) -> Data {
        Data("version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256(data))\nsize \(data.count)\n".utf8)
    }
}

/// One connection's requests, answered from ``LoopbackHubServer/reply(method:uri:headers:onCDN:)``.
private final class HubRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: LoopbackHubServer
    private let onCDN: Bool
    private var head: HTTPRequestHead?

    init(server: LoopbackHubServer, onCDN: Bool) {
        self.server = server
        self.onCDN = onCDN
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request): head = request
        case .body: break
        case .end:
            guard let request = head else { return }
            head = nil
            respond(context: context, request: request)
        }
    }

    private func respond(context: ChannelHandlerContext, request: HTTPRequestHead) {
        let reply = server.reply(method: request.method, uri: request.uri, headers: request.headers, onCDN: onCDN)
        var headers = HTTPHeaders(reply.headers)
        if !headers.contains(name: "Content-Length") { headers.add(name: "Content-Length", value: "\(reply.body.count)") }
        let keepAlive = request.isKeepAlive && reply.cutAfter == nil
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: reply.status, headers: headers))), promise: nil)
        var body = reply.body
        if let cut = reply.cutAfter { body = body.prefix(cut) }
        let channel = context.channel
        if request.method != .HEAD, !body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            if reply.cutAfter != nil {
                // The announced Content-Length is not reached: the client sees the connection drop
                // mid-body, after exactly the bytes written (closing first would drop pending writes).
                // The pause lets the client consume those bytes before it sees the close.
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).whenComplete { _ in
                    channel.eventLoop.scheduleTask(in: .milliseconds(300)) { channel.close(promise: nil) }
                }
                return
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if reply.cutAfter != nil {
            context.flush()
            context.close(promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
