import Foundation
import Hummingbird
import HummingbirdTesting
import MGPipeline
import Testing
@testable import MGServer

/// The routes on the bundled scenes model through Hummingbird's in-process test client: the answer
/// equals ``MiniGemini/answer(_:)`` with the same parameters, batched or not, and errors carry
/// OpenAI's shape and a request id. (End-to-end tests with the real `openai` client: Tools/server.)
@Suite("Server routes")
struct ServerRouteTests {
    static let modelFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/MGM-Scenes")
    static let scene = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Examples/Images/scene.png")

    private func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    @Test("a completion equals MiniGemini.answer, batched and not", arguments: [true, false])
    func completion(batching: Bool) async throws {
        let model = try MiniGemini(directory: Self.modelFolder)
        let server = MiniGeminiServer(model: model, options: ServerOptions(modelID: "MGM-Scenes", batching: batching))
        let png = try Data(contentsOf: Self.scene)
        let image = try model.decodeImage(contentsOf: Self.scene)
        var answers: [String: String] = [:]
        let questions = ["What color is the triangle?", "What digit is shown?", "How many shapes are there?"]
        for question in questions {
            answers[question] = try await model.answer(MiniGeminiRequest(question: question, images: [image], parameters: .greedy)).text
        }
        let expected = answers
        let app = Application(router: server.makeRouter())
        try await app.test(.router) { client in
            for question in questions {
                let body: [String: Any] = ["temperature": 0, "messages": [["role": "user", "content": [
                    ["type": "image_url", "image_url": ["url": "data:image/png;base64," + png.base64EncodedString()]],
                    ["type": "text", "text": question]]]]]
                let data = try JSONSerialization.data(withJSONObject: body)
                try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(bytes: data)) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.requestID] != nil)
                    let answer = try json(response.body)
                    let message = (answer["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
                    #expect(message?["content"] as? String == expected[question], "\(question)")
                }
            }
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{")) { response in
                #expect(response.status == .badRequest)
                #expect(response.headers[.requestID] != nil)
                let error = try json(response.body)["error"] as? [String: Any]
                #expect(error?["code"] as? String == "invalid_json")
            }
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                let health = try json(response.body)
                #expect(health["status"] as? String == "ok")
            }
        }
    }
}
