import Foundation
import MGHub
import Testing

/// The cache is shared with Python's `huggingface_hub`: each reads what the other wrote
/// (`Tools/hub_interop.py`, against the same loopback Hub). Skipped with a printed reason when
/// `python3` cannot import `huggingface_hub`.
@Suite("Cache shared with huggingface_hub", .serialized)
struct HubInteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Tools/hub_interop.py")

    @Test("mgm reads a cache written by huggingface_hub, and huggingface_hub reads the one mgm wrote")
    func sharedCache() async throws {
        guard let probe = try? await BoundedProcess.python(["-c", "import huggingface_hub"], environment: [:], seconds: 60), probe.status == 0 else {
            print("HubInteropTests: skipped, python3 cannot import huggingface_hub (pip install huggingface_hub)")
            return
        }
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let pythonCache = try HubFixtures.temporaryCache()
        let swiftCache = try HubFixtures.temporaryCache()
        defer { [pythonCache, swiftCache].forEach { try? FileManager.default.removeItem(at: $0) } }
        let environment = ["HF_ENDPOINT": server.endpoint, "HF_TOKEN": "hf_test_token"]
        let expected = try HubFixtures.files(of: HubFixtures.checkpoints.appendingPathComponent("MGM-2B-tiny"))

        // 1. huggingface_hub downloads; mgm reads that cache offline without a request.
        let download = try await BoundedProcess.python([Self.script.path, "download", HubFixtures.modelID, pythonCache.path], environment: environment, seconds: 300)
        try #require(download.status == 0, "hub_interop.py download failed: \(download.error)")
        server.clearLog()
        let offline = HubClient(environment: HubEnvironment(endpoint: server.endpoint, cacheDirectory: pythonCache, offline: true))
        let fromPython = try await offline.snapshot(try HubRepoReference(parsing: HubFixtures.modelID))
        #expect(server.log.isEmpty)
        for (name, data) in expected {
            #expect(try Data(contentsOf: fromPython.folder.appendingPathComponent(name)) == data, "\(name) in the Python-written cache")
        }
        let pythonFolder = try JSONSerialization.jsonObject(with: Data(download.output.utf8)) as? [String: Any]
        #expect((pythonFolder?["folder"] as? String).map { URL(fileURLWithPath: $0).standardizedFileURL } == fromPython.folder.standardizedFileURL)

        // 2. mgm downloads; huggingface_hub reads that cache with HF_HUB_OFFLINE=1.
        let fromSwift = try await HubClient(environment: HubEnvironment(endpoint: server.endpoint, cacheDirectory: swiftCache)).snapshot(try HubRepoReference(parsing: HubFixtures.modelID))
        await server.stop()
        let read = try await BoundedProcess.python([Self.script.path, "read-offline", HubFixtures.modelID, swiftCache.path], environment: environment, seconds: 300)
        try #require(read.status == 0, "hub_interop.py read-offline failed: \(read.error)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(read.output.utf8)) as? [String: Any])
        #expect((report["folder"] as? String).map { URL(fileURLWithPath: $0).standardizedFileURL } == fromSwift.folder.standardizedFileURL)
        let hashes = try #require(report["files"] as? [String: String])
        #expect(hashes == expected.mapValues(LoopbackHubServer.sha256))
        #expect((report["warnings"] as? [Any])?.isEmpty == true, "scan_cache_dir warnings: \(report["warnings"] ?? "")")
        let repos = try #require(report["repos"] as? [String: [String: [String]]])
        #expect(repos[HubFixtures.modelID]?["files"] == expected.keys.sorted())
        #expect(repos[HubFixtures.modelID]?["refs"] == ["main"])
    }
}

