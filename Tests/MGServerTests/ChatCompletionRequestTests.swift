import Testing
@testable import MGServer

/// Request validation without a model: every wrong field is a 400 naming it, too many images a 413.
@Suite("Chat completion requests")
struct ChatCompletionRequestTests {
    private func parse(_ json: String, maximumImages: Int = 16) throws(APIError) -> ChatCompletionRequest {
        try ChatCompletionRequest.parse(Array(json.utf8), maximumImages: maximumImages)
    }

    private func error(_ json: String, maximumImages: Int = 16) -> APIError? {
        do {
            _ = try parse(json, maximumImages: maximumImages)
            return nil
        } catch {
            return error
        }
    }

    @Test("a full request parses with its defaults")
    func parsesFields() throws {
        let request = try parse(#"""
            {"model": "m", "stream": true, "temperature": 0.5, "top_p": 0.9, "max_tokens": 7, "seed": 3, "stop": ["x", "y"],
             "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAEC"}}, {"type": "text", "text": "hi"}]}]}
            """#)
        #expect(request.stream && request.model == "m" && request.stop == ["x", "y"])
        #expect(request.messages.count == 2 && request.messages[1].images == [.inline([0, 1, 2])] && request.messages[1].text == "hi")
        let parameters = request.generationParameters()
        #expect(parameters.temperature == 0.5 && parameters.topK == 50 && parameters.maximumTokens == 7 && parameters.seed == 3)
        let greedy = try parse(#"{"messages": [{"role": "user", "content": "hi"}], "temperature": 0}"#).generationParameters()
        #expect(greedy.topK == 0 && greedy.maximumTokens == 512)
    }

    @Test("wrong types and values name the field")
    func rejectsWrongFields() {
        let cases: [(String, String?, String?)] = [
            (#"{"messages": [}"#, nil, "invalid_json"),
            (#"[1]"#, nil, "invalid_type"),
            (#"{"messages": "hi"}"#, "messages", "invalid_type"),
            (#"{"messages": [{"role": "user", "content": 5}]}"#, "messages[0].content", "invalid_type"),
            (#"{"messages": [{"role": "user", "content": "hi"}], "temperature": true}"#, "temperature", "invalid_type"),
            (#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2.5}"#, "max_tokens", "invalid_type"),
            (#"{"messages": [{"role": "user", "content": "hi"}], "seed": -1}"#, "seed", "invalid_value"),
            (#"{"messages": [{"role": "user", "content": "hi"}], "n": 2}"#, "n", "invalid_value"),
            (#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}]}]}"#,
             "messages[0].content[0].image_url.url", "invalid_base64"),
            (#"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}"#,
             "messages[0].content[0].image_url.url", "invalid_image"),
        ]
        for (json, param, code) in cases {
            let failure = error(json)
            #expect(failure?.status == .badRequest, "\(json)")
            #expect(failure?.param == param && failure?.code == code, "\(json): \(String(describing: failure))")
        }
    }

    @Test("too many images is 413 before any is decoded")
    func tooManyImages() {
        let part = #"{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}"#
        let json = #"{"messages": [{"role": "user", "content": ["# + Array(repeating: part, count: 3).joined(separator: ",") + "]}]}"
        #expect(error(json, maximumImages: 3) == nil)
        #expect(error(json, maximumImages: 2)?.status == .contentTooLarge)
    }

    @Test("API keys compare in full")
    func keyComparison() {
        #expect(APIKeyMiddleware<ServerContext>.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!APIKeyMiddleware<ServerContext>.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!APIKeyMiddleware<ServerContext>.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!APIKeyMiddleware<ServerContext>.constantTimeEqual([], Array("a".utf8)))
    }
}
