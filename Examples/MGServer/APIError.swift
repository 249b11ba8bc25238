import Foundation
import HTTPTypes
import Hummingbird
import MGLanguage
import MGPipeline
import MGVision

/// An error answered in OpenAI's JSON shape:
/// `{"error": {"message": …, "type": …, "param": …, "code": …}}`.
///
/// Every failure a client can cause maps to one of these, with the status that fits: 400 for a
/// malformed or invalid request, 401 for a missing or wrong API key, 404 for an unknown path or
/// model, 413 for a body, image or prompt above a limit, 429 when every slot and the queue are full,
/// 503 while the server shuts down. 500 is left for bugs.
public struct APIError: Error, Sendable, HTTPResponseError {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `rate_limit_error`, `server_error`.
    public var type: String
    /// The request field at fault, when there is one (`messages[0].content`).
    public var param: String?
    /// A short machine-readable code (`invalid_json`, `context_length_exceeded`, …).
    public var code: String?

    public init(status: HTTPResponse.Status, message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// 400: the request is malformed or asks for something impossible.
    public static func invalid(_ message: String, param: String? = nil, code: String? = "invalid_value") -> APIError {
        APIError(status: .badRequest, message: message, param: param, code: code)
    }

    /// 413: the request exceeds a documented limit.
    public static func tooLarge(_ message: String, param: String? = nil, code: String = "limit_exceeded") -> APIError {
        APIError(status: .contentTooLarge, message: message, param: param, code: code)
    }

    /// The JSON object of the error (the body of the HTTP response, and the `data:` line of an
    /// error that ends a stream).
    public var jsonObject: [String: Any] {
        ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONBody.encode(jsonObject))))
    }

    /// The error a library error becomes: limits are 413, other request problems 400 (a cancelled
    /// request too: its client has gone anyway), anything else 500.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as MiniGeminiError:
            switch error {
            case .limitExceeded(let what, _, _):
                self = .tooLarge("\(error)", param: what.contains("image") ? "messages" : (what.contains("token") ? "max_tokens" : nil))
            case .promptTooLong:
                self = .tooLarge("\(error)", param: "messages", code: "context_length_exceeded")
            case .vision(.imageTooLarge), .vision(.outOfMemory):
                self = .tooLarge("\(error)", param: "messages", code: "image_too_large")
            case .vision(.unsupportedFormat), .vision(.truncatedImage), .vision(.corruptImage), .vision(.unsupportedImage),
                 .vision(.invalidImage), .vision(.unreadableFile):
                self = .invalid("\(error)", param: "messages", code: "invalid_image")
            case .invalidRequest:
                self = .invalid("\(error)")
            case .language(.invalidParameter):
                self = .invalid("\(error)")
            case .cancelled:
                self = APIError(status: .badRequest, message: "the request was cancelled", code: "cancelled")
            default:
                self = APIError(status: .internalServerError, message: "\(error)", type: "server_error", code: "internal_error")
            }
        case let error as LanguageModelError:
            if case .invalidParameter = error { self = .invalid("\(error)") } else {
                self = APIError(status: .internalServerError, message: "\(error)", type: "server_error", code: "internal_error")
            }
        case let error as HTTPError where error.status == .contentTooLarge:
            self = .tooLarge("the request body is larger than the server's limit", code: "body_too_large")
        case let error as HTTPError:
            self = APIError(status: error.status, message: error.body ?? "\(error.status)", code: nil)
        default:
            self = APIError(status: .internalServerError, message: "\(error)", type: "server_error", code: "internal_error")
        }
    }
}

/// Compact JSON encoding of Foundation objects (keys sorted, so bodies are reproducible).
enum JSONBody {
    static func encode(_ object: Any) -> [UInt8] {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return Array(#"{"error":{"message":"response encoding failed","type":"server_error","param":null,"code":null}}"#.utf8)
        }
        return Array(data)
    }
}
