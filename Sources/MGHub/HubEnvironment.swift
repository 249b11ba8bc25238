import Foundation

/// Where the cache is, which Hub to ask, with which token, and whether to ask at all — read from the
/// same environment variables as Python's `huggingface_hub`, so both share one cache.
public struct HubEnvironment: Sendable, Equatable {
    /// The Hub, without a trailing slash (`HF_ENDPOINT`, default `https://huggingface.co`).
    public var endpoint: String
    /// The cache root holding `models--ORG--NAME` folders.
    public var cacheDirectory: URL
    /// Sent as `Authorization: Bearer …` to the Hub (never to another host a download redirects to).
    public var token: String?
    /// No request at all: only what the cache holds (`HF_HUB_OFFLINE=1`).
    public var offline: Bool

    public init(endpoint: String = "https://huggingface.co", cacheDirectory: URL, token: String? = nil, offline: Bool = false) {
        var endpoint = endpoint
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        self.cacheDirectory = cacheDirectory
        self.token = token
        self.offline = offline
    }

    /// The settings `huggingface_hub` would use with this environment:
    /// - cache: `HF_HUB_CACHE`, else `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
    ///   `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`;
    /// - endpoint: `HF_ENDPOINT`;
    /// - token: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH` or `$HF_HOME/token`;
    /// - offline: `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` set to 1, ON, YES or TRUE.
    public static func fromProcess(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> HubEnvironment {
        func value(_ name: String) -> String? {
            guard let text = environment[name], !text.isEmpty else { return nil }
            return text
        }
        func expand(_ path: String) -> URL {
            if path == "~" || path.hasPrefix("~/") {
                let home = value("HOME") ?? NSHomeDirectory()
                return URL(fileURLWithPath: home + path.dropFirst())
            }
            return URL(fileURLWithPath: path)
        }
        let home = value("HOME") ?? NSHomeDirectory()
        let hfHome = value("HF_HOME").map(expand)
            ?? expand(value("XDG_CACHE_HOME") ?? home + "/.cache").appendingPathComponent("huggingface")
        let cache = (value("HF_HUB_CACHE") ?? value("HUGGINGFACE_HUB_CACHE")).map(expand) ?? hfHome.appendingPathComponent("hub")

        var token = value("HF_TOKEN") ?? value("HUGGING_FACE_HUB_TOKEN")
        if token == nil {
            let tokenFile = value("HF_TOKEN_PATH").map(expand) ?? hfHome.appendingPathComponent("token")
            if let text = try? String(contentsOf: tokenFile, encoding: .utf8) {
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { token = trimmed }
            }
        }
        let truthy: Set<String> = ["1", "ON", "YES", "TRUE"]
        let offline = [value("HF_HUB_OFFLINE"), value("TRANSFORMERS_OFFLINE")].contains { $0.map { truthy.contains($0.uppercased()) } ?? false }
        return HubEnvironment(endpoint: value("HF_ENDPOINT") ?? "https://huggingface.co", cacheDirectory: cache, token: token, offline: offline)
    }
}
