import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `huggingface_hub` cache layout, read and written exactly as the Python library does, so a
/// cache filled by either is used by both:
///
/// ```
/// <root>/models--ORG--NAME/
///     blobs/<etag>                       file contents, named by ETag (sha256 for LFS files, git sha1 otherwise)
///     blobs/<etag>.incomplete            a download in progress (resumed from its size)
///     refs/<revision>                    the commit hash a branch or tag pointed to, no newline
///     snapshots/<commit>/<path>          relative symlinks to ../../blobs/<etag>
///     trees/<commit>.json                the file listing of the commit (huggingface_hub ≥ 1.x)
///     .no_exist/<commit>/<path>          empty markers: the Hub said the file does not exist
/// ```
public struct HubCache: Sendable, Equatable {
    /// The cache root (`HF_HUB_CACHE`).
    public let root: URL

    public init(root: URL) {
        self.root = root.standardizedFileURL
    }

    /// `<root>/models--ORG--NAME`.
    public func repositoryFolder(_ reference: HubRepoReference) -> URL {
        root.appendingPathComponent(reference.cacheFolderName, isDirectory: true)
    }

    /// `blobs/<etag>`.
    public func blobURL(_ reference: HubRepoReference, etag: String) -> URL {
        repositoryFolder(reference).appendingPathComponent("blobs").appendingPathComponent(etag)
    }

    /// `blobs/<etag>.incomplete`: where a download is written until it is complete and verified.
    public func incompleteURL(_ reference: HubRepoReference, etag: String) -> URL {
        repositoryFolder(reference).appendingPathComponent("blobs").appendingPathComponent(etag + ".incomplete")
    }

    /// `snapshots/<commit>`.
    public func snapshotFolder(_ reference: HubRepoReference, commit: String) -> URL {
        repositoryFolder(reference).appendingPathComponent("snapshots").appendingPathComponent(commit, isDirectory: true)
    }

    /// The commit a reference points to without asking the Hub: the revision itself when it is a
    /// commit hash, else the content of `refs/<revision>`; nil when unknown.
    public func commitHash(for reference: HubRepoReference) -> String? {
        if reference.revisionIsCommitHash { return reference.revision }
        let refURL = repositoryFolder(reference).appendingPathComponent("refs").appendingPathComponent(reference.revision)
        guard let text = try? String(contentsOf: refURL, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return HubRepoReference.isCommitHash(commit) ? commit : nil
    }

    /// The snapshot folder of `reference` when the cache has one.
    public func cachedSnapshot(_ reference: HubRepoReference) -> URL? {
        guard let commit = commitHash(for: reference) else { return nil }
        let folder = snapshotFolder(reference, commit: commit)
        return isDirectory(folder) ? folder : nil
    }

    /// The cached file `path` of `reference` (a symlink into `blobs/` that resolves), or nil.
    public func cachedFile(_ reference: HubRepoReference, path: String) -> URL? {
        guard let commit = commitHash(for: reference), (try? Self.checkRelativePath(path)) != nil else { return nil }
        let url = snapshotFolder(reference, commit: commit).appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// True when an earlier lookup recorded that the Hub has no `path` at `commit` (`.no_exist`).
    public func isKnownMissing(_ reference: HubRepoReference, commit: String, path: String) -> Bool {
        let marker = repositoryFolder(reference).appendingPathComponent(".no_exist").appendingPathComponent(commit).appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: marker.path)
    }

    /// Records that the Hub has no `path` at `commit`.
    public func markMissing(_ reference: HubRepoReference, commit: String, path: String) throws(HubError) {
        try Self.checkRelativePath(path)
        let marker = repositoryFolder(reference).appendingPathComponent(".no_exist").appendingPathComponent(commit).appendingPathComponent(path)
        try createDirectory(marker.deletingLastPathComponent())
        if !FileManager.default.createFile(atPath: marker.path, contents: Data()) {
            throw .fileSystem(path: marker.path, reason: "cannot create the .no_exist marker")
        }
    }

    /// Writes `refs/<revision>` = `commit` (atomically; nothing when the revision is the commit).
    public func writeRef(_ reference: HubRepoReference, commit: String) throws(HubError) {
        guard reference.revision != commit else { return }
        let refURL = repositoryFolder(reference).appendingPathComponent("refs").appendingPathComponent(reference.revision)
        if (try? String(contentsOf: refURL, encoding: .utf8)) == commit { return }
        try writeAtomically(Data(commit.utf8), to: refURL)
    }

    /// Points `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative symlink, as
    /// `huggingface_hub` makes it (`../../blobs/<etag>`, one more `../` per folder in `path`).
    @discardableResult
    public func link(_ reference: HubRepoReference, commit: String, path: String, etag: String) throws(HubError) -> URL {
        try Self.checkRelativePath(path)
        let pointer = snapshotFolder(reference, commit: commit).appendingPathComponent(path)
        try createDirectory(pointer.deletingLastPathComponent())
        let depth = path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: 2 + depth) + "blobs/" + etag
        let manager = FileManager.default
        if let existing = try? manager.destinationOfSymbolicLink(atPath: pointer.path), existing == target { return pointer }
        try? manager.removeItem(at: pointer)
        do {
            try manager.createSymbolicLink(atPath: pointer.path, withDestinationPath: target)
        } catch {
            throw .fileSystem(path: pointer.path, reason: "cannot create the snapshot symlink: \(error.localizedDescription)")
        }
        return pointer
    }

    /// Moves a verified download into `blobs/<etag>`.
    public func commitBlob(_ reference: HubRepoReference, from incomplete: URL, etag: String) throws(HubError) {
        let blob = blobURL(reference, etag: etag)
        // POSIX rename replaces atomically: a reader sees the old blob or the new one, never a partial file.
        guard rename(incomplete.path, blob.path) == 0 else {
            throw .fileSystem(path: blob.path, reason: "cannot move the download into blobs/: \(String(cString: strerror(errno)))")
        }
    }

    /// The listing `trees/<commit>.json` (huggingface_hub's tree cache), or nil.
    public func treeListing(_ reference: HubRepoReference, commit: String) -> [HubRemoteFile]? {
        let url = treeURL(reference, commit: commit)
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              root["format_version"] as? Int == 1, let files = root["files"] as? [String: Any]
        else { return nil }
        var result: [HubRemoteFile] = []
        for (path, value) in files {
            guard let entry = value as? [String: Any] else { return nil }
            result.append(HubRemoteFile(
                path: path, size: (entry["size"] as? NSNumber)?.int64Value, blobID: entry["blob_id"] as? String,
                lfsSHA256: entry["lfs_sha256"] as? String))
        }
        return result.sorted { $0.path < $1.path }
    }

    /// Writes `trees/<commit>.json` in huggingface_hub's format (format_version 1), when every file
    /// has a size and a blob id (else the Python library would reject it; nothing is written).
    public func writeTreeListing(_ reference: HubRepoReference, commit: String, files: [HubRemoteFile]) throws(HubError) {
        var entries: [String: Any] = [:]
        for file in files {
            guard let size = file.size, let blobID = file.blobID else { return }
            var entry: [String: Any] = ["size": size, "blob_id": blobID]
            if let sha = file.lfsSHA256 {
                entry["lfs_sha256"] = sha
                entry["lfs_size"] = size
            }
            entries[file.path] = entry
        }
        let object: [String: Any] = ["format_version": 1, "files": entries]
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted]) } catch {
            throw .fileSystem(path: treeURL(reference, commit: commit).path, reason: "cannot encode the tree listing")
        }
        try writeAtomically(data, to: treeURL(reference, commit: commit))
    }

    /// Rejects repository paths that would leave the snapshot folder.
    public static func checkRelativePath(_ path: String) throws(HubError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !path.contains("\\"), !path.contains("\0"),
              !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else { throw .unsafePath(path) }
    }

    func createDirectory(_ url: URL) throws(HubError) {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw .fileSystem(path: url.path, reason: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    private func treeURL(_ reference: HubRepoReference, commit: String) -> URL {
        repositoryFolder(reference).appendingPathComponent("trees").appendingPathComponent(commit + ".json")
    }

    private func writeAtomically(_ data: Data, to url: URL) throws(HubError) {
        try createDirectory(url.deletingLastPathComponent())
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            throw .fileSystem(path: temporary.path, reason: "cannot write: \(error.localizedDescription)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw .fileSystem(path: url.path, reason: "cannot replace: \(String(cString: strerror(errno)))")
        }
    }

    private func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
