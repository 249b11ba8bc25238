/// A model repository on the Hub and a revision: `ORG/NAME` or `ORG/NAME@REVISION`.
///
/// ```swift
/// let reference = try HubRepoReference(parsing: "YanweiLi/MGM-2B")   // revision "main"
/// reference.cacheFolderName                                          // "models--YanweiLi--MGM-2B"
/// ```
public struct HubRepoReference: Sendable, Hashable, CustomStringConvertible {
    /// The default branch, as `huggingface_hub` assumes.
    public static let defaultRevision = "main"

    /// The owner (user or organisation).
    public let organization: String
    /// The repository name.
    public let name: String
    /// A branch, tag or 40-hex commit hash.
    public let revision: String

    /// `ORG/NAME`.
    public var id: String { "\(organization)/\(name)" }

    /// The repository's folder in the cache, as `huggingface_hub`'s `repo_folder_name` names it.
    public var cacheFolderName: String { "models--\(organization)--\(name)" }

    /// True when ``revision`` is a full commit hash (then no `refs/` entry is needed).
    public var revisionIsCommitHash: Bool { Self.isCommitHash(revision) }

    public var description: String { revision == Self.defaultRevision ? id : "\(id)@\(revision)" }

    /// - Throws: ``HubError/invalidReference(_:reason:)``.
    public init(organization: String, name: String, revision: String = defaultRevision) throws(HubError) {
        let text = "\(organization)/\(name)@\(revision)"
        for part in [organization, name] {
            guard Self.isValidPart(part) else {
                throw .invalidReference(text, reason: "'\(part)' must be letters, digits, '-', '_' or '.', not start with '-' or '.', and not contain '--' or '..'")
            }
        }
        guard Self.isValidRevision(revision) else {
            throw .invalidReference(text, reason: "revision '\(revision)' must be a branch, tag or commit name without '..', spaces or a leading '/'")
        }
        self.organization = organization
        self.name = name
        self.revision = revision
    }

    /// Parses `ORG/NAME` or `ORG/NAME@REVISION`.
    /// - Throws: ``HubError/invalidReference(_:reason:)``.
    public init(parsing text: String) throws(HubError) {
        var repository = Substring(text)
        var revision = Self.defaultRevision
        if let at = text.firstIndex(of: "@") {
            repository = text[..<at]
            revision = String(text[text.index(after: at)...])
        }
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .invalidReference(text, reason: "expected exactly one '/'") }
        try self.init(organization: String(parts[0]), name: String(parts[1]), revision: revision)
    }

    /// The same repository at another revision (a resolved commit hash, say).
    public func at(revision: String) throws(HubError) -> HubRepoReference {
        try HubRepoReference(organization: organization, name: name, revision: revision)
    }

    /// True for a 40-character lowercase hex string.
    public static func isCommitHash(_ text: String) -> Bool {
        text.utf8.count == 40 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func isValidPart(_ part: String) -> Bool {
        guard let first = part.unicodeScalars.first, part.utf8.count <= 96 else { return false }
        guard first != "-", first != "." else { return false }
        guard !part.contains("--"), !part.contains("..") else { return false }
        return part.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    private static func isValidRevision(_ revision: String) -> Bool {
        guard !revision.isEmpty, revision.utf8.count <= 255, !revision.hasPrefix("/"), !revision.hasSuffix("/") else { return false }
        guard !revision.split(separator: "/").contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else { return false }
        return revision.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 && !"\\~^:?*[".unicodeScalars.contains($0) }
    }
}
