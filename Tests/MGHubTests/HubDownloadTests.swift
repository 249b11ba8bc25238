import Foundation
import MGHub
import Testing

/// ``HubClient`` against the loopback Hub: the cache layout it writes, resuming, verification,
/// offline mode.
@Suite("Hub downloads", .serialized)
struct HubDownloadTests {
    @Test("a fresh download writes huggingface_hub's layout: blobs by ETag, relative symlinks, refs, tree listing")
    func freshDownloadLayout() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let reference = try HubRepoReference(parsing: HubFixtures.modelID)
        let client = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot))
        let snapshot = try await client.snapshot(reference)
        let log = server.log
        await server.stop()

        let expected = try HubFixtures.files(of: HubFixtures.checkpoints.appendingPathComponent("MGM-2B-tiny"))
        let repoFolder = cacheRoot.appendingPathComponent("models--YanweiLi--MGM-2B")
        #expect(snapshot.commit == HubFixtures.commit("model"))
        #expect(snapshot.folder == repoFolder.appendingPathComponent("snapshots/\(snapshot.commit)"))
        #expect(try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8) == snapshot.commit)
        #expect(snapshot.downloadedFiles == expected.keys.sorted())
        #expect(snapshot.downloadedBytes == Int64(expected.values.reduce(0) { $0 + $1.count }))
        for (name, data) in expected {
            let pointer = snapshot.folder.appendingPathComponent(name)
            let etag = LoopbackHubServer.isLFS(name) ? LoopbackHubServer.sha256(data) : LoopbackHubServer.gitSHA1(data)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: pointer.path) == "../../blobs/\(etag)", "\(name)")
            #expect(try Data(contentsOf: pointer) == data, "\(name) bytes")
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path)
        #expect(blobs.count == expected.count)
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
        #expect(FileManager.default.fileExists(atPath: repoFolder.appendingPathComponent("trees/\(snapshot.commit).json").path))
        // LFS files were fetched from the CDN port without the token; the Hub port got it.
        let cdnGets = log.filter { $0.onCDN && $0.method == "GET" }
        #expect(cdnGets.count == expected.keys.filter(LoopbackHubServer.isLFS).count)
        #expect(cdnGets.allSatisfy { $0.authorization == nil })
        #expect(log.filter { !$0.onCDN }.allSatisfy { $0.authorization == "Bearer hf_test_token" })
        #expect(log.contains { $0.method == "HEAD" && $0.uri.contains("/resolve/\(snapshot.commit)/config.json") })
    }

    @Test("a second call with everything cached downloads nothing")
    func cachedSecondCall() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let client = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot))
        let reference = try HubRepoReference(parsing: HubFixtures.clipID)
        let first = try await client.snapshot(reference)
        server.clearLog()
        let second = try await client.snapshot(reference)
        let log = server.log
        await server.stop()
        #expect(second.folder == first.folder)
        #expect(second.downloadedFiles.isEmpty)
        #expect(log.count == 1, "only the revision lookup: \(log)")
    }

    @Test("a cut connection resumes with a Range request and the bytes are right")
    func resumeAfterCut() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let file = "model-00002-of-00002.safetensors"
        let expected = try Data(contentsOf: HubFixtures.checkpoints.appendingPathComponent("MGM-2B-tiny/\(file)"))
        server.inject(.cut(afterBytes: 100_000, times: 1), path: file)
        let client = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot))
        let snapshot = try await client.snapshot(try HubRepoReference(parsing: HubFixtures.modelID))
        let log = server.log
        await server.stop()
        // Bytes still in flight when the connection drops may be lost; the resumed range starts at
        // what was written, at most the cut.
        let resumedAt = log.compactMap { request -> Int? in
            guard request.onCDN, request.method == "GET", let range = request.range, range.hasPrefix("bytes="), range.hasSuffix("-") else { return nil }
            return Int(range.dropFirst(6).dropLast())
        }
        #expect(resumedAt.count == 1 && resumedAt.allSatisfy { $0 > 0 && $0 <= 100_000 }, "\(log)")
        #expect(try Data(contentsOf: snapshot.folder.appendingPathComponent(file)) == expected)
    }

    @Test("an interrupted run leaves only blobs/<etag>.incomplete; the next run resumes it")
    func interruptedRunResumesLater() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let file = "open_clip_pytorch_model.bin"
        let expected = try Data(contentsOf: HubFixtures.convNeXtFolder.appendingPathComponent(file))
        let etag = LoopbackHubServer.sha256(expected)
        let reference = try HubRepoReference(parsing: HubFixtures.convNeXtID)
        server.inject(.cut(afterBytes: 1_000_000, times: 1), path: file)
        let impatient = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot), retries: 0)
        await #expect(throws: HubError.self) { _ = try await impatient.snapshot(reference) }

        let blobs = cacheRoot.appendingPathComponent("models--\(reference.organization)--\(reference.name)/blobs")
        let incomplete = blobs.appendingPathComponent(etag + ".incomplete")
        #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent(etag).path), "no blob under its final name")
        let kept = try #require(try? FileManager.default.attributesOfItem(atPath: incomplete.path)[.size] as? Int)
        #expect(kept > 0 && kept <= 1_000_000, "the bytes received before the cut are kept: \(kept)")

        server.clearLog()
        let snapshot = try await HubClient(environment: HubFixtures.environment(server, cache: cacheRoot)).snapshot(reference)
        let log = server.log
        await server.stop()
        #expect(log.contains { $0.onCDN && $0.range == "bytes=\(kept)-" }, "\(log)")
        #expect(!log.contains { $0.onCDN && $0.method == "GET" && $0.range == nil }, "the whole file was fetched again")
        #expect(try Data(contentsOf: snapshot.folder.appendingPathComponent(file)) == expected)
        #expect(!FileManager.default.fileExists(atPath: incomplete.path))
    }

    @Test("corrupted bytes are detected and nothing is cached", arguments: ["model-00001-of-00002.safetensors", "config.json"])
    func corruptionRejected(file: String) async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        server.inject(.corrupt, path: file)
        let client = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot), maximumConcurrentDownloads: 1)
        let reference = try HubRepoReference(parsing: HubFixtures.modelID)
        var caught: HubError?
        do { _ = try await client.snapshot(reference) } catch { caught = error }
        await server.stop()
        guard case .checksumMismatch(let path, _, _)? = caught else {
            Issue.record("expected a checksum mismatch, got \(String(describing: caught))")
            return
        }
        #expect(path == file)
        let data = try Data(contentsOf: HubFixtures.checkpoints.appendingPathComponent("MGM-2B-tiny/\(file)"))
        let etag = LoopbackHubServer.isLFS(file) ? LoopbackHubServer.sha256(data) : LoopbackHubServer.gitSHA1(data)
        let blobs = cacheRoot.appendingPathComponent("models--YanweiLi--MGM-2B/blobs")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: blobs.path)) ?? []
        #expect(!names.contains { $0.hasPrefix(etag) }, "blobs/ holds \(names)")
        let snapshotFile = cacheRoot.appendingPathComponent("models--YanweiLi--MGM-2B/snapshots/\(HubFixtures.commit("model"))/\(file)")
        #expect(!FileManager.default.fileExists(atPath: snapshotFile.path))
    }

    @Test("offline mode serves the cache and makes no request")
    func offlineFromCache() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let reference = try HubRepoReference(parsing: HubFixtures.clipID)
        let online = try await HubClient(environment: HubFixtures.environment(server, cache: cacheRoot)).snapshot(reference)
        server.clearLog()
        let offline = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot, offline: true))
        let cached = try await offline.snapshot(reference)
        #expect(cached.folder == online.folder)
        #expect(try Data(contentsOf: cached.folder.appendingPathComponent("config.json")) == Data(contentsOf: HubFixtures.clipFolder.appendingPathComponent("config.json")))
        // Not in the cache: a typed error, still without a request.
        let missing = try HubRepoReference(parsing: HubFixtures.modelID)
        await #expect(throws: HubError.self) { _ = try await offline.snapshot(missing) }
        let log = server.log
        await server.stop()
        #expect(log.isEmpty, "requests made offline: \(log)")
    }

    @Test("an unknown repository, revision or file is a typed error")
    func notFound() async throws {
        let server = try await LoopbackHubServer.start(try HubFixtures.repositories())
        let cacheRoot = try HubFixtures.temporaryCache()
        defer { try? FileManager.default.removeItem(at: cacheRoot) }
        let client = HubClient(environment: HubFixtures.environment(server, cache: cacheRoot))
        await #expect(throws: HubError.repositoryNotFound("nobody/nothing")) { _ = try await client.snapshot(try HubRepoReference(parsing: "nobody/nothing")) }
        await #expect(throws: HubError.revisionNotFound(repository: HubFixtures.modelID, revision: "v9")) {
            _ = try await client.snapshot(try HubRepoReference(parsing: HubFixtures.modelID + "@v9"))
        }
        await #expect(throws: HubError.entryNotFound(repository: HubFixtures.modelID, revision: "main", path: "missing.json")) {
            _ = try await client.fileMetadata(try HubRepoReference(parsing: HubFixtures.modelID), path: "missing.json")
        }
        await server.stop()
    }

    @Test("repository references parse and reject what is not ORG/NAME[@REVISION]")
    func references() throws {
        let plain = try HubRepoReference(parsing: "YanweiLi/MGM-2B")
        #expect(plain.revision == "main" && plain.cacheFolderName == "models--YanweiLi--MGM-2B")
        #expect(try HubRepoReference(parsing: "laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup@v1.0").revision == "v1.0")
        for bad in ["MGM-2B", "a/b/c", "../x", "a/..", "a/b@", "a/b@../x", "/abs/path", "a--b/c", "a/b c"] {
            #expect(throws: HubError.self, "\(bad)") { try HubRepoReference(parsing: bad) }
        }
        #expect(TowerRepositories.repository(forConfigured: "model_zoo/OpenAI/clip-vit-large-patch14-336")?.id == "openai/clip-vit-large-patch14-336")
        #expect(TowerRepositories.repository(forConfigured: "model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")?.id
            == "laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup")
        #expect(TowerRepositories.repository(forConfigured: "model_zoo/gone/clip-gone") == nil)
    }

    @Test("the environment is read as huggingface_hub reads it")
    func environmentVariables() throws {
        let home = HubEnvironment.fromProcess(["HOME": "/home/u"])
        #expect(home.cacheDirectory.path == "/home/u/.cache/huggingface/hub" && home.endpoint == "https://huggingface.co" && !home.offline)
        let hfHome = HubEnvironment.fromProcess(["HOME": "/home/u", "HF_HOME": "/data/hf", "HF_HUB_OFFLINE": "1", "HF_TOKEN": "t"])
        #expect(hfHome.cacheDirectory.path == "/data/hf/hub" && hfHome.offline && hfHome.token == "t")
        let explicit = HubEnvironment.fromProcess(["HOME": "/home/u", "HF_HOME": "/data/hf", "HF_HUB_CACHE": "/c", "HF_ENDPOINT": "http://h:1/", "HF_HUB_OFFLINE": "0"])
        #expect(explicit.cacheDirectory.path == "/c" && explicit.endpoint == "http://h:1" && !explicit.offline)
    }
}
