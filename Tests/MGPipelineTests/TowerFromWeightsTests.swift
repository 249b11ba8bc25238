import Foundation
import MGPipeline
import MGVision
import Testing

/// An OpenCLIP ConvNeXt tower folder whose `open_clip_config.json` names a trunk the built-in table
/// lacks loads with the architecture read from its weights and gives the reference's numbers; a
/// listed name that contradicts the weights is a typed error naming the field.
@Suite("Tower architecture from the weights")
struct TowerFromWeightsTests {
    /// A copy of the fixture ConvNeXt tower (a `convnext_atto` trunk: depths 2/2/6/2, widths
    /// 40/80/160/320, conv MLP) whose weights are linked and whose `open_clip_config.json` names
    /// `modelName` (or is absent when `nil`).
    struct TowerCopy {
        let folder: URL

        init(naming modelName: String?) throws {
            let source = try EndToEndFixtures.root.appendingPathComponent(
                "Checkpoints/model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup")
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-tower-\(UUID().uuidString)/custom-tower")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                at: folder.appendingPathComponent("open_clip_pytorch_model.bin"),
                withDestinationURL: source.appendingPathComponent("open_clip_pytorch_model.bin"))
            guard let modelName else { return }
            let data = try Data(contentsOf: source.appendingPathComponent("open_clip_config.json"))
            var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var model = try #require(config["model_cfg"] as? [String: Any])
            var vision = try #require(model["vision_cfg"] as? [String: Any])
            vision["timm_model_name"] = modelName
            model["vision_cfg"] = vision
            config["model_cfg"] = model
            try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("open_clip_config.json"))
        }

        func remove() {
            try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
        }
    }

    @Test("an unlisted model name (or no open_clip_config.json) loads from the weights and matches the reference",
          arguments: ["convnext_custom_test", nil] as [String?])
    func unlistedName(modelName: String?) throws {
        let tower = try TowerCopy(naming: modelName)
        defer { tower.remove() }
        let caseName = try #require(EndToEndFixtures.caseNames.first { $0.hasPrefix("MGM-7B-tiny--") && (try? EndToEndCase($0).imageNames == ["quadrants.png"]) == true })
        let golden = try EndToEndCase(caseName)
        let notes = ProgressNotes()
        let model = try MiniGemini(
            directory: try EndToEndFixtures.checkpoint(golden.checkpoint),
            options: .init(visionTowerAux: tower.folder, progress: { notes.append($0) }))
        let detail = try #require(notes.all.first { $0.step == .highResolutionTower }?.detail)
        #expect(detail.contains("architecture read from the weights"), "\(detail)")
        #expect(detail.contains(modelName.map { "model name '\($0)' is not in the built-in table" } ?? "no model name"), "\(detail)")

        let images = try #require(try golden.imagePaths()).map { try model.decodeImage(contentsOf: URL(fileURLWithPath: $0)) }
        let (dump, _) = try model.runRecording(MiniGeminiRequest(question: golden.question, images: images, parameters: EndToEndCase.parameters))
        #expect(dump.generatedIDs == (try golden.metaIDs("generated_ids")), "\(caseName): greedy tokens")
        try golden.expectMatches(try dump.tensors(), origin: "ConvNeXt tower from its weights")
    }

    @Test("a listed model name whose sizes contradict the weights is a typed error naming the field")
    func disagreement() throws {
        let tower = try TowerCopy(naming: "convnext_femto")
        defer { tower.remove() }
        #expect {
            try MiniGemini(directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"), options: .init(visionTowerAux: tower.folder))
        } throws: { error in
            guard case MiniGeminiError.vision(.architectureMismatch(let field, let configured, let weights)) = error else { return false }
            return field == "widths" && configured == "[48, 96, 192, 384]" && weights == "[40, 80, 160, 320]"
        }
    }
}

/// Collects load progress reports from the loading thread.
final class ProgressNotes: @unchecked Sendable {
    private let lock = NSLock()
    private var notes: [LoadProgress] = []

    func append(_ note: LoadProgress) { lock.withLock { notes.append(note) } }
    var all: [LoadProgress] { lock.withLock { notes } }
}
