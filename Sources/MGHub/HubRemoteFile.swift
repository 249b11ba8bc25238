/// One file of a repository at a commit, as the Hub lists it.
public struct HubRemoteFile: Sendable, Hashable {
    /// The path in the repository (`/`-separated).
    public var path: String
    /// The file's size in bytes (of the real file for LFS files, not of the pointer), when listed.
    public var size: Int64?
    /// The git blob id (sha1 of the git object; for LFS files, of the pointer).
    public var blobID: String?
    /// For files stored in LFS: the sha256 of the content, which is also their ETag and blob name.
    public var lfsSHA256: String?

    public init(path: String, size: Int64? = nil, blobID: String? = nil, lfsSHA256: String? = nil) {
        self.path = path
        self.size = size
        self.blobID = blobID
        self.lfsSHA256 = lfsSHA256
    }
}

/// What the Hub says about a repository at a revision.
public struct HubRepositoryInfo: Sendable, Equatable {
    /// The commit the revision points to.
    public var commit: String
    /// Every file at that commit.
    public var files: [HubRemoteFile]

    public init(commit: String, files: [HubRemoteFile]) {
        self.commit = commit
        self.files = files
    }
}

/// What a `HEAD` on `/{repo}/resolve/{revision}/{path}` tells: where to download a file and how to
/// check it.
public struct HubFileMetadata: Sendable, Equatable {
    /// `X-Repo-Commit`.
    public var commit: String
    /// `X-Linked-Etag` or `ETag`, without quotes or `W/`: sha256 for LFS files, git sha1 otherwise.
    /// It names the file in `blobs/`.
    public var etag: String
    /// `X-Linked-Size` or `Content-Length`.
    public var size: Int64
    /// The URL to download from: the resolve URL, or the CDN URL an LFS file redirects to.
    public var location: String

    public init(commit: String, etag: String, size: Int64, location: String) {
        self.commit = commit
        self.etag = etag
        self.size = size
        self.location = location
    }
}

/// A snapshot folder in the cache: `snapshots/<commit>/` with the requested files.
public struct HubSnapshot: Sendable, Equatable {
    /// The repository and the revision that was asked for.
    public var reference: HubRepoReference
    /// The commit the revision resolved to.
    public var commit: String
    /// `…/models--ORG--NAME/snapshots/<commit>`; open it as a plain checkpoint folder.
    public var folder: URL
    /// Files fetched from the Hub in this call (empty when everything was cached or offline).
    public var downloadedFiles: [String]
    /// Bytes received from the Hub in this call.
    public var downloadedBytes: Int64

    public init(reference: HubRepoReference, commit: String, folder: URL, downloadedFiles: [String] = [], downloadedBytes: Int64 = 0) {
        self.reference = reference
        self.commit = commit
        self.folder = folder
        self.downloadedFiles = downloadedFiles
        self.downloadedBytes = downloadedBytes
    }
}

import Foundation
