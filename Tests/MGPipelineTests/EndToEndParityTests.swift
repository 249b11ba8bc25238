import Foundation
import MGLanguage
import MGPipeline
import MGTensor
import MGTestSupport
import MGVision
import Testing

/// Tiny Mini-Gemini checkpoints laid out like the releases (Vicuna, Gemma BF16, Mixtral, Llama-3
/// with a byte-level `tokenizer.json` and the `llama_3` template, HD with `.bin` shards), run end
/// to end with no template given and compared with a PyTorch reference that follows the official
/// code step by step: every intermediate tensor (relative error ≤ 1e-4, pixels ≤ 1e-5), the prompt
/// text, the input ids and the 24 greedy tokens exactly.
@Suite("End-to-end parity with the PyTorch reference")
struct EndToEndParityTests {
    @Test("the goldens cover five checkpoints and at least twelve requests")
    func coverage() throws {
        let checkpoints = Set(try EndToEndFixtures.caseNames.map { try EndToEndCase($0).checkpoint })
        #expect(checkpoints == ["MGM-7B-tiny", "MGM-2B-tiny", "MGM-8x7B-tiny", "MGM-8B-tiny", "MGM-7B-HD-tiny"])
        #expect(EndToEndFixtures.caseNames.count >= 12)
    }

    @Test("dumped tensors, prompt, ids and greedy tokens match", arguments: EndToEndFixtures.caseNames)
    func parity(caseName: String) throws {
        let golden = try EndToEndCase(caseName)
        guard let paths = try golden.imagePaths() else { return }
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint(golden.checkpoint))
        let images = try paths.map { path in try model.decodeImage(contentsOf: URL(fileURLWithPath: path)) }
        let request = MiniGeminiRequest(question: golden.question, images: images, parameters: EndToEndCase.parameters)
        let (dump, _) = try model.runRecording(request)

        #expect(dump.prepared.text == golden.golden.metadata["prompt"], "\(caseName): prompt text")
        #expect(dump.prepared.inputIDs == (try golden.metaIDs("input_ids")), "\(caseName): input ids")
        #expect(dump.generatedIDs == (try golden.metaIDs("generated_ids")), "\(caseName): greedy tokens")
        #expect(dump.generatedText == golden.golden.metadata["generated_text"], "\(caseName): answer text")
        try golden.expectMatches(try dump.tensors(), origin: "library")
    }

    @Test("the streaming API gives the same answer as the recorded run")
    func streamingMatchesRecording() async throws {
        let name = try #require(EndToEndFixtures.caseNames.first { $0.hasPrefix("MGM-7B-tiny--") && (try? EndToEndCase($0).imageNames == ["quadrants.png"]) == true })
        let golden = try EndToEndCase(name)
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint(golden.checkpoint))
        let images = try #require(try golden.imagePaths()).map { try model.decodeImage(contentsOf: URL(fileURLWithPath: $0)) }
        let answer = try await model.answer(MiniGeminiRequest(question: golden.question, images: images, parameters: EndToEndCase.parameters))
        // The answer's ids exclude a final stop token, which transformers' ids include.
        var expectedIDs = try golden.metaIDs("generated_ids")
        if expectedIDs.last == model.tokenizer.eosTokenID { expectedIDs.removeLast() }
        #expect(answer.tokenIDs == expectedIDs)
        #expect(answer.text == golden.golden.metadata["generated_text"])
        #expect(answer.info.inputIDs == (try golden.metaIDs("input_ids")))
    }
}
