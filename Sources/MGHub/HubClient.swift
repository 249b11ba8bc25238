import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Downloads repositories from the Hugging Face Hub into the shared cache (``HubCache``), the way
/// `huggingface_hub.snapshot_download` does, and reads them back offline.
///
/// - Metadata: `GET /api/models/{repo}/revision/{revision}?blobs=true` (commit and file list), then
///   per file `HEAD /{repo}/resolve/{commit}/{path}` (`X-Repo-Commit`, `ETag` / `X-Linked-Etag`,
///   size, and for LFS files a redirect to the CDN, which is not followed with the token).
/// - Downloads go to `blobs/<etag>.incomplete`, resume with `Range` after a cut (in the same run,
///   up to ``retries`` times, and in a later run from the file left behind), are checked against the
///   announced size and ETag (sha256 for LFS files, git blob sha1 for others), and only then move to
///   `blobs/<etag>`; `snapshots/<commit>/<path>` links to them. An interrupted or corrupt download
///   never appears under its final name.
/// - Offline (`HF_HUB_OFFLINE`): no request at all; the snapshot comes from `refs/` and `snapshots/`.
///   When the Hub cannot be reached, a cached snapshot is used too.
///
/// ```swift
/// let client = HubClient()                                   // environment as huggingface_hub reads it
/// let snapshot = try await client.snapshot(try HubRepoReference(parsing: "YanweiLi/MGM-2B"))
/// let model = try MiniGemini(directory: snapshot.folder)
/// ```
public struct HubClient: Sendable {
    /// Endpoint, cache, token, offline.
    public var environment: HubEnvironment
    /// Files downloaded at the same time.
    public var maximumConcurrentDownloads: Int
    /// How many times one file's download resumes after the connection breaks.
    public var retries: Int
    /// Seconds allowed for a response head, and without any byte while streaming a body.
    public var timeoutSeconds: Int64

    /// The cache this client reads and writes.
    public var cache: HubCache { HubCache(root: environment.cacheDirectory) }

    public init(environment: HubEnvironment = .fromProcess(), maximumConcurrentDownloads: Int = 4, retries: Int = 5, timeoutSeconds: Int64 = 60) {
        self.environment = environment
        self.maximumConcurrentDownloads = max(1, maximumConcurrentDownloads)
        self.retries = max(0, retries)
        self.timeoutSeconds = max(1, timeoutSeconds)
    }

    // MARK: - Snapshots

    /// The snapshot folder of `reference` with the files `files` selects, downloading what the
    /// cache lacks (nothing is requested when offline).
    /// - Parameter progress: called from download tasks with the bytes done (not called offline or
    ///   when everything is cached).
    /// - Throws: ``HubError``.
    public func snapshot(
        _ reference: HubRepoReference, files: HubFileFilter = .all, progress: (@Sendable (HubDownloadProgress) -> Void)? = nil
    ) async throws(HubError) -> HubSnapshot {
        if environment.offline {
            return try cachedSnapshot(reference, files: files, reason: "offline mode (HF_HUB_OFFLINE) is on")
        }
        return try await withHTTP { (http) throws(HubError) in
            let info: HubRepositoryInfo
            do throws(HubError) {
                info = try await repositoryInfo(reference, http: http)
            } catch {
                // As huggingface_hub: no connection is not an error when the cache has the snapshot.
                guard case .transport(let url, let reason) = error else { throw error }
                return try cachedSnapshot(reference, files: files, reason: "cannot reach \(url): \(reason)")
            }
            return try await download(reference, info: info, files: files, http: http, progress: progress)
        }
    }

    /// The snapshot the cache holds for `reference`, without any request.
    /// - Throws: ``HubError/notCached(repository:revision:reason:)`` when the cache has no snapshot,
    ///   or its `trees/` listing shows that selected files are missing.
    public func cachedSnapshot(_ reference: HubRepoReference, files: HubFileFilter = .all, reason: String = "not downloaded") throws(HubError) -> HubSnapshot {
        let cache = self.cache
        guard let commit = cache.commitHash(for: reference) else {
            throw .notCached(repository: reference.id, revision: reference.revision, reason: reason)
        }
        let folder = cache.snapshotFolder(reference, commit: commit)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .notCached(repository: reference.id, revision: reference.revision, reason: reason)
        }
        if let listing = cache.treeListing(reference, commit: commit) {
            let missing = files.select(listing).map(\.path).filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
            if !missing.isEmpty {
                throw .notCached(repository: reference.id, revision: reference.revision, reason: "\(reason); the cached snapshot lacks \(missing.prefix(5).joined(separator: ", "))")
            }
        }
        return HubSnapshot(reference: reference, commit: commit, folder: folder)
    }

    // MARK: - Metadata

    /// The commit `reference` points to and its files (`/api/models/{repo}/revision/{revision}`).
    /// - Throws: ``HubError``; also when offline.
    public func repositoryInfo(_ reference: HubRepoReference) async throws(HubError) -> HubRepositoryInfo {
        guard !environment.offline else {
            throw .notCached(repository: reference.id, revision: reference.revision, reason: "offline mode (HF_HUB_OFFLINE) is on")
        }
        return try await withHTTP { (http) throws(HubError) in try await repositoryInfo(reference, http: http) }
    }

    /// `HEAD` of one file: commit, ETag, size and download location.
    /// - Throws: ``HubError``; also when offline.
    public func fileMetadata(_ reference: HubRepoReference, path: String) async throws(HubError) -> HubFileMetadata {
        guard !environment.offline else {
            throw .notCached(repository: reference.id, revision: reference.revision, reason: "offline mode (HF_HUB_OFFLINE) is on")
        }
        return try await withHTTP { (http) throws(HubError) in try await fileMetadata(reference, path: path, http: http) }
    }

    // MARK: - Implementation

    private func withHTTP<T: Sendable>(_ body: (HubHTTP) async throws(HubError) -> T) async throws(HubError) -> T {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(min(timeoutSeconds, 30)), read: .seconds(timeoutSeconds)))
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let http = HubHTTP(client: client, environment: environment, headTimeout: .seconds(timeoutSeconds))
        let result: Result<T, HubError>
        do throws(HubError) { result = .success(try await body(http)) } catch { result = .failure(error) }
        try? await client.shutdown()
        return try result.get()
    }

    func repositoryInfo(_ reference: HubRepoReference, http: HubHTTP) async throws(HubError) -> HubRepositoryInfo {
        let url = "\(environment.endpoint)/api/models/\(reference.id)/revision/\(HubHTTP.encodeSegment(reference.revision))?blobs=true"
        let data = try await http.getJSON(url, repository: reference.id, revision: reference.revision)
        struct Sibling: Decodable {
            struct LFS: Decodable { var sha256: String?; var size: Int64? }
            var rfilename: String
            var size: Int64?
            var blobId: String?
            var lfs: LFS?
        }
        struct Info: Decodable { var sha: String?; var siblings: [Sibling]? }
        let info: Info
        do { info = try JSONDecoder().decode(Info.self, from: data) } catch {
            throw .invalidResponse(url: url, reason: "not a model info object: \(error)")
        }
        guard let commit = info.sha, HubRepoReference.isCommitHash(commit) else {
            throw .invalidResponse(url: url, reason: "no commit hash (\"sha\")")
        }
        var files: [HubRemoteFile] = []
        for sibling in info.siblings ?? [] {
            try HubCache.checkRelativePath(sibling.rfilename)
            files.append(HubRemoteFile(
                path: sibling.rfilename, size: sibling.lfs?.size ?? sibling.size, blobID: sibling.blobId, lfsSHA256: sibling.lfs?.sha256))
        }
        return HubRepositoryInfo(commit: commit, files: files)
    }

    func fileMetadata(_ reference: HubRepoReference, path: String, http: HubHTTP) async throws(HubError) -> HubFileMetadata {
        var url = "\(environment.endpoint)/\(reference.id)/resolve/\(HubHTTP.encodeSegment(reference.revision))/\(HubHTTP.encodePath(path))"
        for _ in 0..<HubHTTP.maximumRedirects {
            let response = try await http.execute(http.request(url, method: .HEAD))
            let status = response.status.code
            let isRedirect = (300..<400).contains(status)
            var location = url
            if isRedirect {
                guard let target = response.headers.first(name: "Location") else {
                    throw .invalidResponse(url: url, reason: "redirect without Location")
                }
                location = HubHTTP.resolve(target, against: url)
                // Redirects on the Hub itself (a renamed repository) are followed; one to another
                // host is the CDN of an LFS file and carries the metadata itself.
                if HubHTTP.origin(location) == HubHTTP.origin(environment.endpoint) {
                    url = location
                    continue
                }
            } else if status != 200 {
                throw HubHTTP.statusError(response, url: url, repository: reference.id, revision: reference.revision, path: path)
            }
            guard let commit = response.headers.first(name: "X-Repo-Commit") else { throw .missingHeader(url: url, header: "X-Repo-Commit") }
            guard let rawETag = response.headers.first(name: "X-Linked-Etag") ?? response.headers.first(name: "ETag") else {
                throw .missingHeader(url: url, header: "ETag")
            }
            let sizeText = response.headers.first(name: "X-Linked-Size") ?? (isRedirect ? nil : response.headers.first(name: "Content-Length"))
            guard let sizeText, let size = Int64(sizeText), size >= 0 else { throw .missingHeader(url: url, header: "X-Linked-Size or Content-Length") }
            let etag = Self.normalize(etag: rawETag)
            guard !etag.isEmpty, !etag.contains("/"), etag != ".", etag != ".." else {
                throw .invalidResponse(url: url, reason: "unusable ETag \(rawETag)")
            }
            return HubFileMetadata(commit: commit, etag: etag, size: size, location: location)
        }
        throw .invalidResponse(url: url, reason: "more than \(HubHTTP.maximumRedirects) redirects")
    }

    /// `W/"abc"` → `abc`, as huggingface_hub's `_normalize_etag`.
    static func normalize(etag: String) -> String {
        var text = Substring(etag.trimmingCharacters(in: .whitespaces))
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        return String(text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
    }

    private func download(
        _ reference: HubRepoReference, info: HubRepositoryInfo, files filter: HubFileFilter, http: HubHTTP,
        progress: (@Sendable (HubDownloadProgress) -> Void)?
    ) async throws(HubError) -> HubSnapshot {
        let cache = self.cache
        let pinned = try reference.at(revision: info.commit)
        try cache.writeRef(reference, commit: info.commit)
        if cache.treeListing(reference, commit: info.commit) == nil {
            try cache.writeTreeListing(reference, commit: info.commit, files: info.files)
        }
        let folder = cache.snapshotFolder(reference, commit: info.commit)
        try cache.createDirectory(folder)
        let wanted = filter.select(info.files).filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0.path).path) }
        let tracker = ProgressTracker(totalBytes: wanted.reduce(0) { $0 + ($1.size ?? 0) }, totalFiles: wanted.count, report: wanted.isEmpty ? nil : progress)
        let fetcher = HubFileFetcher(reference: reference, pinned: pinned, client: self, http: http, tracker: tracker)

        var downloaded: [String] = []
        let outcome: Result<Void, HubError> = await withTaskGroup(of: Result<String?, HubError>.self) { group in
            var pending = wanted[...]
            var failure: HubError?
            func startNext() {
                guard failure == nil, let file = pending.popFirst() else { return }
                group.addTask {
                    do throws(HubError) { return .success(try await fetcher.fetch(file.path)) } catch { return .failure(error) }
                }
            }
            for _ in 0..<maximumConcurrentDownloads { startNext() }
            for await result in group {
                switch result {
                case .success(let path):
                    if let path { downloaded.append(path) }
                    startNext()
                case .failure(let error):
                    if failure == nil { failure = error }
                    group.cancelAll()
                }
            }
            return failure.map { .failure($0) } ?? .success(())
        }
        try outcome.get()
        tracker.finish()
        return HubSnapshot(reference: reference, commit: info.commit, folder: folder, downloadedFiles: downloaded.sorted(), downloadedBytes: tracker.bytes)
    }
}
