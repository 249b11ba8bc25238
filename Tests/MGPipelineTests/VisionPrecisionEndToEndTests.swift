import Foundation
import MGPipeline
import MGTensor
import MGTestSupport
import MGVision
import Testing

/// The tiny end-to-end checkpoints loaded with the opt-in bf16 vision mode
/// (``MiniGeminiLoadOptions/visionPrecision``): the visual tokens handed to the decoder stay within
/// ``visualTokenBound`` of the F32 reference, and the greedy answers keep at least
/// ``minimumTokenAgreement`` of their tokens (the leading tokens that agree with the golden, over
/// all requests). Measured per case and printed; the parity tests stay on the F32 default.
@Suite("bf16 vision mode end to end")
struct VisionPrecisionEndToEndTests {
    static let visualTokenBound: Float = 1e-2  // measured ≤ 5.0e-3 (avx512bf16), ≤ 3.8e-3 (avx2)
    static let minimumTokenAgreement = 0.9  // measured 216/216 at avx512bf16 and avx2

    @Test func visualTokensAndAnswersStayClose() throws {
        var agreed = 0, total = 0
        var options = MiniGeminiLoadOptions()
        options.visionPrecision = .bfloat16
        for caseName in EndToEndFixtures.caseNames {
            let golden = try EndToEndCase(caseName)
            guard let paths = try golden.imagePaths(), !paths.isEmpty else { continue }
            let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint(golden.checkpoint), options: options)
            let images = try paths.map { path in try model.decodeImage(contentsOf: URL(fileURLWithPath: path)) }
            let request = MiniGeminiRequest(question: golden.question, images: images, parameters: EndToEndCase.parameters)
            let (dump, _) = try model.runRecording(request)
            let tokens = try #require(try dump.tensors()["visual_tokens"], "\(caseName): visual_tokens missing")
            let error = relativeError(
                try tokens.asFloat32().floats(), try golden.golden.tensor(named: "visual_tokens").asFloat32().floats())
            let expectedIDs = try golden.metaIDs("generated_ids")
            let prefix = zip(dump.generatedIDs, expectedIDs).prefix { $0 == $1 }.count
            agreed += prefix
            total += expectedIDs.count
            print("[vision precision] \(caseName): visual tokens relative error \(error), \(prefix)/\(expectedIDs.count) leading tokens agree")
            #expect(error <= Self.visualTokenBound, "\(caseName): visual tokens relative error \(error)")
        }
        #expect(total > 0)
        let agreement = Double(agreed) / Double(max(total, 1))
        print("[vision precision] leading-token agreement \(agreed)/\(total)")
        #expect(agreement >= Self.minimumTokenAgreement, "leading-token agreement \(agreed)/\(total)")
    }
}
