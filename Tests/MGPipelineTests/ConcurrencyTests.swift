import Foundation
import MGLanguage
import MGPipeline
import MGVision
import Testing

/// One loaded model serves concurrent requests with the results of sequential runs, and a
/// cancelled request stops early.
@Suite("Concurrent requests and cancellation")
struct ConcurrencyTests {
    static func requests(_ model: MiniGemini) throws -> [MiniGeminiRequest] {
        let quadrants = try model.decodeImage(contentsOf: try EndToEndFixtures.root.appendingPathComponent("Images/quadrants.png"))
        let plain = try RGBImage(width: 40, height: 23, color: RGBColor(red: 200, green: 40, blue: 90))
        let greedy = GenerationParameters(maximumTokens: 12)
        let sampled = GenerationParameters(maximumTokens: 12, temperature: 0.8, topK: 20, topP: 0.9, seed: 7)
        return [
            MiniGeminiRequest(question: "What is in the picture?", images: [quadrants], parameters: greedy),
            MiniGeminiRequest(question: "Describe the colours.", images: [plain], parameters: sampled),
            MiniGeminiRequest(question: "Hello there", parameters: greedy),
            MiniGeminiRequest(question: "Compare them.", images: [plain, quadrants], parameters: sampled),
        ]
    }

    @Test("concurrent answers equal sequential answers")
    func concurrentEqualsSequential() async throws {
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"))
        let requests = try Self.requests(model)
        var sequential: [[Int]] = []
        for request in requests { sequential.append(try await model.answer(request).tokenIDs) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, try await model.answer(request).tokenIDs) }
            }
            var results = [[Int]](repeating: [], count: requests.count)
            for try await (index, ids) in group { results[index] = ids }
            return results
        }
        #expect(concurrent == sequential)
        #expect(sequential.allSatisfy { !$0.isEmpty })
    }

    @Test("cancelling the consumer stops generation early")
    func cancellation() async throws {
        let model = try MiniGemini(directory: try EndToEndFixtures.checkpoint("MGM-7B-tiny"))
        var parameters = GenerationParameters(maximumTokens: 300)
        parameters.stopsAtEndOfSequence = false
        let request = MiniGeminiRequest(question: "Count forever", parameters: parameters)
        let consumer = Task { () -> (chunks: Int, finished: Bool) in
            var chunks = 0
            var finished = false
            for try await event in model.respond(to: request) {
                switch event {
                case .chunk:
                    chunks += 1
                    if chunks == 1 { withUnsafeCurrentTask { $0?.cancel() } }
                case .finished:
                    finished = true
                }
            }
            return (chunks, finished)
        }
        let (chunks, finished) = try await consumer.value
        // Chunks already produced when the cancellation arrives are still delivered; the point is
        // that generation does not run on to its 300 tokens.
        #expect(chunks >= 1 && chunks < 100, "got \(chunks) chunks after cancelling at the first")
        #expect(!finished)
    }
}
