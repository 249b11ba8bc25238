import Foundation
import Testing

/// A temporary copy of a fixture checkpoint (its files symlinked) with an edited `config.json`,
/// for the error cases. Removed by ``remove()``.
struct CheckpointVariant {
    let folder: URL
    /// The fixture's tower folders, to pass as overrides (the copy is not next to `model_zoo/`).
    let visionTower: URL
    let visionTowerAux: URL

    init(of name: String, editing edit: (inout [String: Any]) -> Void) throws {
        let source = try EndToEndFixtures.checkpoint(name)
        let zoo = try EndToEndFixtures.root.appendingPathComponent("Checkpoints/model_zoo/OpenAI")
        visionTower = zoo.appendingPathComponent("clip-vit-large-patch14-336")
        visionTowerAux = zoo.appendingPathComponent("openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-variant-\(UUID().uuidString)/\(name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file != "config.json" {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(file), withDestinationURL: source.appendingPathComponent(file))
        }
        let data = try Data(contentsOf: source.appendingPathComponent("config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }
}
