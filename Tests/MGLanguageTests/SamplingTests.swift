import MGTensor
import Testing
@testable import MGLanguage

/// The sampler's logit pipeline against hand-computed HF semantics.
@Suite("Sampling")
struct SamplingTests {
    let logits = try! Tensor(shape: [1, 6], values: [1.0, 3.0, -2.0, 2.5, 3.0, 0.5])

    @Test("greedy picks the first maximum")
    func greedy() throws {
        var sampler = TokenSampler(parameters: .greedy)
        #expect(try sampler.sample(logits: logits, history: []) == 1)
    }

    @Test("repetition penalty divides positive and multiplies negative logits (HF)")
    func repetitionPenalty() throws {
        let sampler = TokenSampler(parameters: GenerationParameters(repetitionPenalty: 2))
        var scores = logits.floats()
        sampler.applyRepetitionPenalty(&scores, history: [1, 2, 1, 99])
        #expect(scores == [1.0, 1.5, -4.0, 2.5, 3.0, 0.5])
        var greedy = TokenSampler(parameters: GenerationParameters(repetitionPenalty: 2))
        #expect(try greedy.sample(logits: logits, history: [1]) == 4)
    }

    @Test("top-k 1 and a tiny top-p reduce sampling to greedy")
    func degenerateFilters() throws {
        let logits = try Tensor(shape: [1, 6], values: [1.0, 3.0, -2.0, 2.5, 2.9, 0.5])
        for parameters in [
            GenerationParameters(temperature: 5, topK: 1, seed: 3),
            GenerationParameters(temperature: 5, topP: 0.01, seed: 3),
        ] {
            var sampler = TokenSampler(parameters: parameters)
            for _ in 0..<20 { #expect(try sampler.sample(logits: logits, history: []) == 1) }
        }
    }

    @Test("top-k keeps ties with the k-th score; top-p keeps the smallest sufficient set")
    func filters() throws {
        var topK = TokenSampler(parameters: GenerationParameters(temperature: 1, topK: 2, seed: 1))
        var seen: Set<Int> = []
        for _ in 0..<200 { seen.insert(try topK.sample(logits: logits, history: [])) }
        #expect(seen == [1, 4])
        // Probabilities ∝ e^logit: ids 1 and 4 hold ~0.35 each, id 3 ~0.21: top-p 0.8 keeps {1, 4, 3}.
        var topP = TokenSampler(parameters: GenerationParameters(temperature: 1, topP: 0.8, seed: 1))
        seen = []
        for _ in 0..<400 { seen.insert(try topP.sample(logits: logits, history: [])) }
        #expect(seen == [1, 3, 4])
    }

    @Test("the one-pass k-th largest equals a full sort's, repeated values counted")
    func kthLargestMatchesSort() {
        var generator = SeededRandomGenerator(seed: 7)
        for (count, k) in [(10, 1), (10, 9), (1000, 50), (4096, 50), (300, 299)] {
            // Few distinct values, so ties straddle the k-th place.
            let scores = (0..<count).map { _ in Float(Int(generator.nextUnitInterval() * 40)) - 20 }
            #expect(TokenSampler.kthLargest(scores, k: k) == scores.sorted(by: >)[k - 1], "count \(count), k \(k)")
        }
    }

    @Test("sampling follows the distribution and is reproducible from the seed")
    func distribution() throws {
        let parameters = GenerationParameters(temperature: 1, seed: 42)
        var a = TokenSampler(parameters: parameters), b = TokenSampler(parameters: parameters)
        var counts = [Int](repeating: 0, count: 6)
        var first: [Int] = [], second: [Int] = []
        for _ in 0..<4000 {
            let token = try a.sample(logits: logits, history: [])
            counts[token] += 1
            first.append(token)
            second.append(try b.sample(logits: logits, history: []))
        }
        #expect(first == second)
        let values = logits.floats().map { Double($0) }
        let total = values.map { Foundation.exp($0) }.reduce(0, +)
        for (id, count) in counts.enumerated() {
            let expected = Foundation.exp(values[id]) / total
            #expect(abs(Double(count) / 4000 - expected) < 0.03, "token \(id)")
        }
    }

    @Test("xoshiro256** is deterministic and uniform-looking")
    func generator() {
        var a = SeededRandomGenerator(seed: 7), b = SeededRandomGenerator(seed: 7), c = SeededRandomGenerator(seed: 8)
        let x = (0..<8).map { _ in a.next() }
        #expect(x == (0..<8).map { _ in b.next() })
        #expect(x != (0..<8).map { _ in c.next() })
        let mean = (0..<10_000).map { _ in a.nextUnitInterval() }.reduce(0, +) / 10_000
        #expect(abs(mean - 0.5) < 0.02)
    }

    @Test("invalid parameters are rejected")
    func invalid() {
        for parameters in [
            GenerationParameters(temperature: -1), GenerationParameters(topP: 0), GenerationParameters(topP: 1.5),
            GenerationParameters(repetitionPenalty: 0), GenerationParameters(maximumTokens: -1),
            GenerationParameters(stopStrings: [""]),
        ] {
            #expect(throws: LanguageModelError.self) { try parameters.validate() }
        }
    }
}

import Foundation
