import Foundation

/// Everything that can go wrong resolving or downloading a Hugging Face Hub repository.
///
/// Each case names the repository, file, URL or path involved, so the one-line description is enough
/// to act on.
public enum HubError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text is not `ORG/NAME` or `ORG/NAME@REVISION`.
    case invalidReference(String, reason: String)
    /// Offline (`HF_HUB_OFFLINE`) or the Hub unreachable, and the cache does not hold what was asked.
    case notCached(repository: String, revision: String, reason: String)
    /// The Hub answered 404 for the repository (or it is private/gated and no valid token was sent).
    case repositoryNotFound(String)
    /// The repository exists but not this branch, tag or commit.
    case revisionNotFound(repository: String, revision: String)
    /// The repository has no such file at this revision.
    case entryNotFound(repository: String, revision: String, path: String)
    /// 401 or 403: a token is needed (`HF_TOKEN`) or the repository is gated.
    case unauthorized(repository: String, status: Int)
    /// Any other unexpected HTTP status.
    case httpStatus(url: String, status: Int)
    /// A response lacked a header the protocol requires (`X-Repo-Commit`, `ETag`, a size).
    case missingHeader(url: String, header: String)
    /// A response that could not be understood (bad JSON, bad range, redirect loop).
    case invalidResponse(url: String, reason: String)
    /// The connection failed or timed out.
    case transport(url: String, reason: String)
    /// The downloaded file does not have the size the Hub announced.
    case sizeMismatch(path: String, expected: Int64, actual: Int64)
    /// The downloaded bytes do not hash to the ETag the Hub announced (sha256 for LFS files, git sha1
    /// otherwise). Nothing was written to `blobs/`.
    case checksumMismatch(path: String, expected: String, actual: String)
    /// A file name from the Hub that would leave the snapshot folder (`..`, absolute).
    case unsafePath(String)
    /// Reading or writing the cache failed.
    case fileSystem(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidReference(let text, let reason):
            return "'\(text)' is not a Hub repository (ORG/NAME[@REVISION]): \(reason)"
        case .notCached(let repository, let revision, let reason):
            return "\(repository)@\(revision) is not in the Hugging Face cache and cannot be downloaded: \(reason)"
        case .repositoryNotFound(let repository):
            return "repository \(repository) not found on the Hub (private or gated repositories need HF_TOKEN)"
        case .revisionNotFound(let repository, let revision):
            return "repository \(repository) has no revision '\(revision)'"
        case .entryNotFound(let repository, let revision, let path):
            return "repository \(repository)@\(revision) has no file \(path)"
        case .unauthorized(let repository, let status):
            return "the Hub refused access to \(repository) (HTTP \(status)); set HF_TOKEN to a token with access"
        case .httpStatus(let url, let status):
            return "HTTP \(status) from \(url)"
        case .missingHeader(let url, let header):
            return "the response from \(url) has no \(header) header (is HF_ENDPOINT a Hugging Face Hub?)"
        case .invalidResponse(let url, let reason):
            return "unexpected response from \(url): \(reason)"
        case .transport(let url, let reason):
            return "cannot reach \(url): \(reason)"
        case .sizeMismatch(let path, let expected, let actual):
            return "\(path): downloaded \(actual) bytes, the Hub announced \(expected)"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path): downloaded bytes hash to \(actual), the Hub announced \(expected); the file was discarded"
        case .unsafePath(let path):
            return "the Hub listed a file name that leaves the snapshot folder: \(path)"
        case .fileSystem(let path, let reason):
            return "\(path): \(reason)"
        }
    }
}
