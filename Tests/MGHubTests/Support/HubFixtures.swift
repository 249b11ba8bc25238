import Foundation
import MGHub
import Testing

/// The tiny end-to-end checkpoints of MGPipelineTests (read from the source tree), served as the
/// Hub repositories of a release and its two towers.
enum HubFixtures {
    /// `Tests/MGPipelineTests/Fixtures`.
    static let pipelineFixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MGPipelineTests/Fixtures")

    static let checkpoints = pipelineFixtures.appendingPathComponent("Checkpoints")
    static let clipFolder = checkpoints.appendingPathComponent("model_zoo/OpenAI/clip-vit-large-patch14-336")
    static let convNeXtFolder = checkpoints.appendingPathComponent("model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")

    static let modelID = "YanweiLi/MGM-2B"
    static let clipID = "openai/clip-vit-large-patch14-336"
    static let convNeXtID = "laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup"

    /// Every file of `folder` (flat folders only), keyed by name.
    static func files(of folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where !name.hasPrefix(".") {
            files[name] = try Data(contentsOf: folder.appendingPathComponent(name))
        }
        return files
    }

    /// A commit hash derived from a name (40 hex digits).
    static func commit(_ seed: String) -> String {
        LoopbackHubServer.gitSHA1(Data(seed.utf8))
    }

    /// MGM-2B-tiny as `YanweiLi/MGM-2B`, and the two fixture towers as their Hub repositories.
    static func repositories() throws -> [LoopbackHubServer.Repository] {
        [
            .init(id: modelID, commit: commit("model"), files: try files(of: checkpoints.appendingPathComponent("MGM-2B-tiny"))),
            .init(id: clipID, commit: commit("clip"), files: try files(of: clipFolder)),
            .init(id: convNeXtID, commit: commit("convnext"), files: try files(of: convNeXtFolder)),
        ]
    }

    /// A fresh, empty cache folder (removed by the caller).
    static func temporaryCache() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The environment `mgm` would see with `HF_ENDPOINT` at the server and `HF_HUB_CACHE` at `cache`.
    static func environment(_ server: LoopbackHubServer, cache: URL, offline: Bool = false) -> HubEnvironment {
        HubEnvironment(endpoint: server.endpoint, cacheDirectory: cache, token: "hf_test_token", offline: offline)
    }
}
