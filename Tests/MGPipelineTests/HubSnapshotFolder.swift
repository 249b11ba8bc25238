import Foundation
import Testing

/// A fixture checkpoint laid out as a Hugging Face cache entry:
/// `<root>/hub/models--test-org--<name>/snapshots/<40 hex digits>/`, each file a relative symlink
/// into `blobs/` (which links to the fixture file), `refs/main` holding the commit hash, and
/// `<root>/model_zoo` linking the fixture towers so ``TowerLocator`` finds them from a parent
/// folder. The snapshot folder's own name says nothing about the model. Removed by ``remove()``.
struct HubSnapshotFolder {
    /// A commit hash without "2b", "34b" or "8x7b" in it: the official CLI's name rule reads a hash
    /// such as "…a2b9…" as a Gemma-2B model name.
    static let commit = "3f7c0a1d9e4d1c8a6f5f0e4d7c9a1e3e4f6a8c0d"
    let root: URL
    let snapshot: URL

    init(of name: String) throws {
        let source = try EndToEndFixtures.checkpoint(name)
        let manager = FileManager.default
        root = manager.temporaryDirectory.appendingPathComponent("mgm-hub-\(UUID().uuidString)")
        let repository = root.appendingPathComponent("hub/models--test-org--\(name)")
        snapshot = repository.appendingPathComponent("snapshots/\(Self.commit)")
        let blobs = repository.appendingPathComponent("blobs")
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try manager.createDirectory(at: blobs, withIntermediateDirectories: true)
        try manager.createDirectory(at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(Self.commit.utf8).write(to: repository.appendingPathComponent("refs/main"))
        for (index, file) in try manager.contentsOfDirectory(atPath: source.path).sorted().enumerated() {
            let blob = String(format: "%064x", index + 1)
            try manager.createSymbolicLink(at: blobs.appendingPathComponent(blob), withDestinationURL: source.appendingPathComponent(file))
            try manager.createSymbolicLink(atPath: snapshot.appendingPathComponent(file).path, withDestinationPath: "../../blobs/\(blob)")
        }
        try manager.createSymbolicLink(
            at: root.appendingPathComponent("model_zoo"), withDestinationURL: try EndToEndFixtures.root.appendingPathComponent("Checkpoints/model_zoo"))
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}
