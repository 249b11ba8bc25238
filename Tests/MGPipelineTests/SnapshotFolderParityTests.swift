import Foundation
import MGPipeline
import MGTensor
import Testing

/// Every end-to-end golden run from a Hugging Face cache snapshot folder
/// (`models--ORG--NAME/snapshots/<commit>/`), whose name says nothing about the model, with no
/// template given: the template comes from the checkpoint's files and the prompt, ids, greedy
/// tokens and tensors match the PyTorch reference as from the plain folder.
@Suite("End-to-end parity from an HF cache snapshot folder")
struct SnapshotFolderParityTests {
    @Test("dumped tensors, prompt, ids and greedy tokens match", arguments: EndToEndFixtures.caseNames)
    func parity(caseName: String) throws {
        let golden = try EndToEndCase(caseName)
        guard let paths = try golden.imagePaths() else { return }
        let snapshot = try HubSnapshotFolder(of: golden.checkpoint)
        defer { snapshot.remove() }
        let model = try MiniGemini(directory: snapshot.snapshot)
        #expect(model.templateChoice.source == .files)
        let plain = try MiniGemini(directory: try EndToEndFixtures.checkpoint(golden.checkpoint))
        #expect(plain.templateChoice == model.templateChoice, "\(caseName): plain folder \(plain.templateChoice), snapshot \(model.templateChoice)")

        let images = try paths.map { path in try model.decodeImage(contentsOf: URL(fileURLWithPath: path)) }
        let request = MiniGeminiRequest(question: golden.question, images: images, parameters: EndToEndCase.parameters)
        let (dump, _) = try model.runRecording(request)
        #expect(dump.prepared.text == golden.golden.metadata["prompt"], "\(caseName): prompt text (template \(model.template.name))")
        #expect(dump.prepared.inputIDs == (try golden.metaIDs("input_ids")), "\(caseName): input ids")
        #expect(dump.generatedIDs == (try golden.metaIDs("generated_ids")), "\(caseName): greedy tokens")
        #expect(dump.generatedText == golden.golden.metadata["generated_text"], "\(caseName): answer text")
        try golden.expectMatches(try dump.tensors(), origin: "HF snapshot folder")
    }
}
