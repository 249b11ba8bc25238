import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP requests of the Hub protocol, on one `HTTPClient` that follows no redirect by itself:
/// the client decides which redirects to follow and never sends the token to another host.
struct HubHTTP: Sendable {
    let client: HTTPClient
    let environment: HubEnvironment
    /// Time allowed for a response head to arrive.
    let headTimeout: TimeAmount

    static let userAgent = "mgm-swift/1.0; hf_hub/compatible"
    static let maximumRedirects = 10

    /// A request with the Hub headers; the token only when `url` is on the Hub's origin.
    func request(_ url: String, method: HTTPMethod, range: Int64? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let range { request.headers.add(name: "Range", value: "bytes=\(range)-") }
        if let token = environment.token, Self.origin(url) == Self.origin(environment.endpoint) {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        return request
    }

    /// Sends `request`, mapping connection failures and timeouts to ``HubError/transport(url:reason:)``.
    func execute(_ request: HTTPClientRequest) async throws(HubError) -> HTTPClientResponse {
        do {
            return try await client.execute(request, timeout: headTimeout)
        } catch {
            throw .transport(url: request.url, reason: Self.describe(error))
        }
    }

    /// GET of a small JSON document (at most 64 MiB).
    func getJSON(_ url: String, repository: String, revision: String) async throws(HubError) -> Data {
        let response = try await execute(request(url, method: .GET))
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: 64 << 20) } catch {
            throw .transport(url: url, reason: Self.describe(error))
        }
        guard response.status == .ok else {
            throw Self.statusError(response, url: url, repository: repository, revision: revision, path: nil)
        }
        return Data(body.readableBytesView)
    }

    /// The typed error for a failed status, using the Hub's `X-Error-Code` when present.
    static func statusError(_ response: HTTPClientResponse, url: String, repository: String, revision: String, path: String?) -> HubError {
        let code = response.headers.first(name: "X-Error-Code")
        switch (response.status.code, code) {
        case (_, "RepoNotFound"): return .repositoryNotFound(repository)
        case (_, "RevisionNotFound"): return .revisionNotFound(repository: repository, revision: revision)
        case (_, "EntryNotFound"): return .entryNotFound(repository: repository, revision: revision, path: path ?? "")
        case (401, _), (403, _), (_, "GatedRepo"): return .unauthorized(repository: repository, status: Int(response.status.code))
        case (404, _):
            if let path { return .entryNotFound(repository: repository, revision: revision, path: path) }
            return .repositoryNotFound(repository)
        default: return .httpStatus(url: url, status: Int(response.status.code))
        }
    }

    /// `scheme://host:port`, lowercased, with the scheme's default port.
    static func origin(_ url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        let scheme = (components.scheme ?? "").lowercased()
        let port = components.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : 0)
        return "\(scheme)://\((components.host ?? "").lowercased()):\(port)"
    }

    /// `location` resolved against `base` (redirects may be relative).
    static func resolve(_ location: String, against base: String) -> String {
        guard let baseURL = URL(string: base), let resolved = URL(string: location, relativeTo: baseURL) else { return location }
        return resolved.absoluteString
    }

    /// Percent-encodes one path segment (a revision such as `refs/pr/1` becomes one segment).
    static func encodeSegment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// Percent-encodes a repository path, keeping its `/`.
    static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encodeSegment(String($0)) }.joined(separator: "/")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return "\(error)"
    }
}
