import MGTensor
import Testing
@testable import MGLanguage

/// The token iterator, stop conditions, streamed events and cancellation, on the tiny Llama with
/// a one-character-per-id tokenizer.
@Suite("Generation")
struct GenerationTests {
    let prompt = [3, 17, 42, 9, 25, 60, 11, 5, 33, 48, 2, 57]

    /// Drains the iterator in place (Array(iterator) would consume a copy and lose its stop reason).
    func drain(_ iterator: inout TokenIterator) -> [Int] {
        var tokens: [Int] = []
        while let token = iterator.next() { tokens.append(token) }
        return tokens
    }

    func reference(_ model: DecoderModel, count: Int) throws -> [Int] {
        let iterator = try TokenIterator(
            model: model, prompt: .tokens(prompt), parameters: GenerationParameters(maximumTokens: count, stopsAtEndOfSequence: false))
        return Array(iterator)
    }

    @Test("maximum tokens, stop ids (not emitted) and context limits")
    func stopConditions() throws {
        let model = try DecoderFixture.model("llama")
        let tokens = try reference(model, count: 10)
        var limited = try TokenIterator(model: model, prompt: .tokens(prompt), parameters: GenerationParameters(maximumTokens: 4, stopsAtEndOfSequence: false))
        #expect(drain(&limited) == Array(tokens.prefix(4)))
        #expect(limited.stopReason == .maximumTokens)

        var stopping = try TokenIterator(
            model: model, prompt: .tokens(prompt),
            parameters: GenerationParameters(maximumTokens: 10, stopTokenIDs: [tokens[3]], stopsAtEndOfSequence: false))
        let stopped = drain(&stopping)
        #expect(stopped == Array(tokens.prefix(while: { $0 != tokens[3] })))
        #expect(stopping.stopReason == .stopToken(tokens[3]))

        var short = try TokenIterator(
            model: model, prompt: .tokens(prompt), parameters: GenerationParameters(maximumTokens: 10, stopsAtEndOfSequence: false),
            maximumLength: prompt.count + 3)
        #expect(drain(&short).count == 4)  // 3 more positions, plus the token sampled from the last one
        #expect(short.stopReason == .contextFull)
    }

    @Test("an embedding prompt generates like its token prompt")
    func embeddingPrompt() throws {
        let model = try DecoderFixture.model("gemma")
        let parameters = GenerationParameters(maximumTokens: 6, stopsAtEndOfSequence: false)
        let fromIDs = try TokenIterator(model: model, prompt: .tokens(prompt), parameters: parameters)
        let fromRows = try TokenIterator(model: model, prompt: .embeddings(try model.embed(ids: prompt), tokenIDs: prompt), parameters: parameters)
        #expect(Array(fromIDs) == Array(fromRows))
    }

    @Test("synchronous text generation with a stop string")
    func stopString() throws {
        let model = try DecoderFixture.model("llama")
        let tokenizer = CharacterTokenizer(size: 64)
        let tokens = try reference(model, count: 12)
        let fullText = tokenizer.decode(tokens, skipSpecialTokens: true)
        let parameters = GenerationParameters(maximumTokens: 12, stopsAtEndOfSequence: false)
        let plain = try generateText(model: model, tokenizer: tokenizer, prompt: .tokens(prompt), parameters: parameters)
        #expect(plain.text == fullText)
        #expect(plain.tokenIDs == tokens)
        #expect(plain.info.generatedTokenCount == 12 && plain.info.promptTokenCount == prompt.count)

        let characters = Array(fullText)
        let stop = String(characters[5...6])
        var withStop = parameters
        withStop.stopStrings = [stop, "never-appears"]
        let cut = try generateText(model: model, tokenizer: tokenizer, prompt: .tokens(prompt), parameters: withStop)
        let expectedText = String(fullText[..<fullText.range(of: stop)!.lowerBound])
        #expect(cut.text == expectedText)
        #expect(cut.info.stopReason == .stopString(stop))
    }

    @Test("stop-string matcher holds back possible prefixes")
    func matcher() {
        var matcher = StopStringMatcher(stopStrings: ["</s>"])
        #expect(matcher.feed("Hello <").text == "Hello ")
        #expect(matcher.feed("/").text == "")
        let (text, stop) = matcher.feed("s>tail")
        #expect(text == "" && stop == "</s>")
        var other = StopStringMatcher(stopStrings: ["</s>"])
        #expect(other.feed("a <b").text == "a <b")
        #expect(other.feed("<").text == "")
        #expect(other.finish() == "<")
    }

    @Test("the async stream yields chunks then info")
    func stream() async throws {
        let model = try DecoderFixture.model("llama")
        let tokenizer = CharacterTokenizer(size: 64)
        let tokens = try reference(model, count: 8)
        var text = "", ids: [Int] = [], info: GenerationInfo?
        let parameters = GenerationParameters(maximumTokens: 8, stopsAtEndOfSequence: false)
        for try await event in generate(model: model, tokenizer: tokenizer, prompt: .tokens(prompt), parameters: parameters) {
            switch event {
            case .chunk(let delta, let tokenIDs):
                #expect(info == nil)
                text += delta
                ids += tokenIDs
            case .info(let final): info = final
            }
        }
        #expect(ids == tokens)
        #expect(text == tokenizer.decode(tokens, skipSpecialTokens: true))
        #expect(info?.generatedTokenCount == 8)
        #expect(info?.stopReason == .maximumTokens)
        #expect((info?.tokensPerSecond ?? 0) > 0)
    }

    @Test("cancelling the consumer stops the producer")
    func cancellation() async throws {
        let model = try DecoderFixture.model("llama")
        let tokenizer = CharacterTokenizer(size: 64)
        let parameters = GenerationParameters(maximumTokens: 10_000, stopsAtEndOfSequence: false)
        let consumer = Task {
            var count = 0
            for try await event in generate(model: model, tokenizer: tokenizer, prompt: .tokens(prompt), parameters: parameters) {
                if case .chunk = event { count += 1 }
                if count == 3 { break }
            }
            return count
        }
        #expect(try await consumer.value == 3)

        let cancelled = Task {
            var events = 0
            do {
                for try await _ in generate(model: model, tokenizer: tokenizer, prompt: .tokens(prompt), parameters: parameters) {
                    events += 1
                }
            } catch {}
            return events
        }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        // 10 000 tokens would need seconds of debug-build compute; cancellation ends it quickly.
        let events = await cancelled.value
        #expect(events < 10_000)
    }

    @Test("invalid parameters surface as errors")
    func invalidParameters() throws {
        let model = try DecoderFixture.model("llama")
        #expect(throws: LanguageModelError.self) {
            _ = try TokenIterator(model: model, prompt: .tokens(prompt), parameters: GenerationParameters(temperature: -1))
        }
        #expect(throws: LanguageModelError.self) {
            _ = try TokenIterator(model: model, prompt: .tokens([]), parameters: .greedy)
        }
    }
}
