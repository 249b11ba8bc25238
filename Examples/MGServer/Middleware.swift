import Foundation
import HTTPTypes
import Hummingbird

/// The request context of the server: Hummingbird's basics plus the request id.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``RequestIDMiddleware`` before any route runs.
    public var requestID = ""

    public init(source: Source) {
        coreContext = .init(source: source)
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("X-Request-Id")!
}

/// Gives every response an `X-Request-Id` (the client's own when it sent a reasonable one, as
/// nginx does with `proxy_set_header X-Request-Id $request_id`) and turns every error into
/// OpenAI's JSON error shape, so that errors carry the id too.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = ServerContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = Self.requestID(from: request)
        var response: Response
        do {
            var tagged = context
            tagged.requestID = id
            response = try await next(request, tagged)
        } catch {
            let apiError = APIError(error)
            response = try apiError.response(from: request, context: context)
            if apiError.status.code >= 500 {
                context.logger.error("request \(id) failed: \(apiError.message)")
            }
        }
        response.headers[.requestID] = id
        return response
    }

    static func requestID(from request: Request) -> String {
        if let given = request.headers[.requestID], (1...64).contains(given.utf8.count),
           given.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }) {
            return given
        }
        return UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}

/// With an API key configured, `/v1/*` needs `Authorization: Bearer <key>` (401 otherwise);
/// `/`, `/health` stay open for browsers and load-balancer probes.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(status: .unauthorized, message: "missing API key: send 'Authorization: Bearer <key>'", type: "authentication_error", code: "missing_api_key")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), Self.constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(key.utf8)) else {
            throw APIError(status: .unauthorized, message: "incorrect API key", type: "authentication_error", code: "invalid_api_key")
        }
        return try await next(request, context)
    }

    /// Compares without an early exit, so response time does not reveal the matching prefix.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }
}
