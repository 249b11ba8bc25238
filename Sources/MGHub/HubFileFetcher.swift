import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetches one file of a snapshot into the cache: metadata, resumable download into
/// `blobs/<etag>.incomplete`, verification, move into `blobs/`, symlink from the snapshot.
struct HubFileFetcher: Sendable {
    /// The repository at the revision asked for.
    let reference: HubRepoReference
    /// The same repository at the resolved commit (so every file comes from one commit).
    let pinned: HubRepoReference
    let client: HubClient
    let http: HubHTTP
    let tracker: ProgressTracker

    /// Longest wait for another process's download of the same blob (its `.locks/` lock).
    static let lockWaitSeconds: Double = 3600

    /// Returns `path` when it was downloaded, nil when an existing blob was linked.
    func fetch(_ path: String) async throws(HubError) -> String? {
        let cache = client.cache
        let metadata = try await client.fileMetadata(pinned, path: path, http: http)
        let blob = cache.blobURL(reference, etag: metadata.etag)
        if FileManager.default.fileExists(atPath: blob.path) {
            try cache.link(reference, commit: pinned.revision, path: path, etag: metadata.etag)
            tracker.add(bytes: metadata.size)
            tracker.fileFinished()
            return nil
        }
        try cache.createDirectory(blob.deletingLastPathComponent())
        let lock = try await BlobLock(cache: cache, reference: reference, etag: metadata.etag, waitSeconds: Self.lockWaitSeconds)
        defer { lock.release() }
        if !FileManager.default.fileExists(atPath: blob.path) {
            let incomplete = cache.incompleteURL(reference, etag: metadata.etag)
            try await receive(metadata, path: path, into: incomplete)
            try verify(incomplete, metadata: metadata, path: path)
            try cache.commitBlob(reference, from: incomplete, etag: metadata.etag)
        }
        try cache.link(reference, commit: pinned.revision, path: path, etag: metadata.etag)
        tracker.fileFinished()
        return path
    }

    /// Downloads into `incomplete` until it has `metadata.size` bytes, resuming with `Range` from
    /// what is already there (a cut connection, or an earlier interrupted run).
    private func receive(_ metadata: HubFileMetadata, path: String, into incomplete: URL) async throws(HubError) {
        let manager = FileManager.default
        if !manager.fileExists(atPath: incomplete.path) {
            guard manager.createFile(atPath: incomplete.path, contents: nil) else {
                throw .fileSystem(path: incomplete.path, reason: "cannot create the download file")
            }
        }
        let handle: FileHandle
        do { handle = try FileHandle(forWritingTo: incomplete) } catch {
            throw .fileSystem(path: incomplete.path, reason: "cannot open: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        var have = Int64((try? handle.seekToEnd()) ?? 0)
        if have > metadata.size {
            try truncate(handle, incomplete)
            have = 0
        }
        tracker.add(bytes: have)

        var url = metadata.location
        var failures = 0
        var redirects = 0
        var lastProblem = ""
        while have < metadata.size {
            if Task.isCancelled { throw .transport(url: url, reason: "cancelled") }
            guard failures <= client.retries else {
                throw .transport(url: url, reason: "gave up after \(failures) interrupted attempts (\(lastProblem)); \(have) of \(metadata.size) bytes are kept in \(incomplete.lastPathComponent) for the next run")
            }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(http.request(url, method: .GET, range: have > 0 ? have : nil))
            } catch {
                failures += 1
                lastProblem = "\(error)"
                continue
            }
            switch response.status.code {
            case 301, 302, 303, 307, 308:
                redirects += 1
                guard redirects <= HubHTTP.maximumRedirects, let location = response.headers.first(name: "Location") else {
                    throw .invalidResponse(url: url, reason: "redirect loop or redirect without Location")
                }
                url = HubHTTP.resolve(location, against: url)
                continue
            case 206:
                let start = response.headers.first(name: "Content-Range").flatMap(Self.rangeStart)
                guard start == have else {
                    // A range other than the one asked for: start over rather than splice wrong bytes.
                    try truncate(handle, incomplete)
                    tracker.add(bytes: -have)
                    have = 0
                    failures += 1
                    lastProblem = "unexpected Content-Range"
                    continue
                }
            case 200:
                if have > 0 {
                    // The server ignored the Range header and sends the whole file.
                    try truncate(handle, incomplete)
                    tracker.add(bytes: -have)
                    have = 0
                }
            case 416:
                try truncate(handle, incomplete)
                tracker.add(bytes: -have)
                have = 0
                failures += 1
                lastProblem = "range not satisfiable"
                continue
            default:
                throw HubHTTP.statusError(response, url: url, repository: reference.id, revision: pinned.revision, path: path)
            }
            do {
                for try await chunk in response.body {
                    let count = Int64(chunk.readableBytes)
                    guard have + count <= metadata.size else {
                        throw HubError.sizeMismatch(path: path, expected: metadata.size, actual: have + count)
                    }
                    try handle.write(contentsOf: Data(chunk.readableBytesView))
                    have += count
                    tracker.add(bytes: count)
                }
            } catch let error as HubError {
                try? FileManager.default.removeItem(at: incomplete)
                throw error
            } catch {
                lastProblem = HubHTTP.describe(error)
            }
            if have < metadata.size {
                failures += 1
                if lastProblem.isEmpty { lastProblem = "the body ended early" }
            }
        }
    }

    /// Size, then content hash (sha256 for a 64-hex ETag, git blob sha1 for a 40-hex one). A
    /// mismatch deletes the download.
    private func verify(_ file: URL, metadata: HubFileMetadata, path: String) throws(HubError) {
        let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? -1
        guard size == metadata.size else {
            try? FileManager.default.removeItem(at: file)
            throw .sizeMismatch(path: path, expected: metadata.size, actual: size)
        }
        let etag = metadata.etag.lowercased()
        let isHex = etag.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        guard isHex, etag.count == 64 || etag.count == 40 else { return }
        let actual: String
        do {
            actual = etag.count == 64 ? try FileDigest.sha256(of: file) : try FileDigest.gitBlobSHA1(of: file, size: size)
        } catch {
            throw .fileSystem(path: file.path, reason: "cannot read back the download: \(error.localizedDescription)")
        }
        guard actual == etag else {
            try? FileManager.default.removeItem(at: file)
            throw .checksumMismatch(path: path, expected: etag, actual: actual)
        }
    }

    private func truncate(_ handle: FileHandle, _ url: URL) throws(HubError) {
        do {
            try handle.truncate(atOffset: 0)
            try handle.seek(toOffset: 0)
        } catch {
            throw .fileSystem(path: url.path, reason: "cannot truncate: \(error.localizedDescription)")
        }
    }

    /// `bytes 100-199/200` → 100.
    static func rangeStart(_ header: String) -> Int64? {
        guard header.hasPrefix("bytes ") else { return nil }
        let spec = header.dropFirst(6)
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        return Int64(spec[..<dash])
    }
}

/// Hashes of files on disk, read in 4 MiB pieces.
enum FileDigest {
    static func sha256(of url: URL) throws -> String {
        var hasher = SHA256()
        try forEachChunk(of: url) { hasher.update(data: $0) }
        return hex(hasher.finalize())
    }

    /// The git object id of a blob: sha1 of `blob <size>\0` followed by the content.
    static func gitBlobSHA1(of url: URL, size: Int64) throws -> String {
        var hasher = Insecure.SHA1()
        hasher.update(data: Data("blob \(size)\0".utf8))
        try forEachChunk(of: url) { hasher.update(data: $0) }
        return hex(hasher.finalize())
    }

    private static func forEachChunk(of url: URL, _ body: (Data) -> Void) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        // Bounded by the file size: each pass reads up to 4 MiB and stops at the end.
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { body(chunk) }
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// `.locks/models--ORG--NAME/<etag>.lock`, the same `flock` huggingface_hub takes, so two processes
/// do not write one blob at once.
final class BlobLock: Sendable {
    private let descriptor: Int32

    init(cache: HubCache, reference: HubRepoReference, etag: String, waitSeconds: Double) async throws(HubError) {
        let folder = cache.root.appendingPathComponent(".locks").appendingPathComponent(reference.cacheFolderName)
        try cache.createDirectory(folder)
        let path = folder.appendingPathComponent(etag + ".lock").path
        let descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { throw .fileSystem(path: path, reason: "cannot open the lock file: \(String(cString: strerror(errno)))") }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(waitSeconds * 1e9)
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard DispatchTime.now().uptimeNanoseconds < deadline, !Task.isCancelled else {
                close(descriptor)
                throw .fileSystem(path: path, reason: "another process holds the download lock")
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
        self.descriptor = descriptor
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
