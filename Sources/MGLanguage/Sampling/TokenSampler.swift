import Foundation
import MGTensor

/// Picks the next token from a row of logits according to ``GenerationParameters``.
///
/// Each step mirrors HF's logits processors in their `generate` order:
/// 1. repetition penalty over every distinct id of `history` (HF `RepetitionPenaltyLogitsProcessor`);
/// 2. greedy: the first index of the maximum — otherwise
/// 3. divide by the temperature, 4. top-k (keep scores ≥ the k-th largest),
/// 5. top-p (drop the low tail whose cumulative probability is ≤ 1 − p, always keeping the top
///    token), 6. draw from the softmax of what is left with the seeded generator.
public struct TokenSampler: Sendable {
    public let parameters: GenerationParameters
    /// The random stream; advances by one draw per sampled token.
    public private(set) var generator: SeededRandomGenerator

    public init(parameters: GenerationParameters) {
        self.parameters = parameters
        generator = SeededRandomGenerator(seed: parameters.seed)
    }

    /// The next token for `logits`.
    /// - Parameters:
    ///   - logits: `[vocab]` or `[1, vocab]`.
    ///   - history: the ids of the sequence so far (prompt and generated), for the repetition
    ///     penalty.
    /// - Throws: ``LanguageModelError/invalidInput(_:)`` for empty logits.
    public mutating func sample(logits: Tensor, history: [Int]) throws(LanguageModelError) -> Int {
        guard logits.count > 0 else { throw .invalidInput("no logits to sample from") }
        if parameters.repetitionPenalty == 1, !parameters.isSampling {
            return try tensorOp(LanguageModelError.tensor) { () throws(TensorError) in try argmax(logits) }
        }
        var scores = logits.floats()
        applyRepetitionPenalty(&scores, history: history)
        if !parameters.isSampling { return Self.firstMaximum(scores) }
        return try draw(from: &scores)
    }

    func applyRepetitionPenalty(_ scores: inout [Float], history: [Int]) {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1 else { return }
        for id in Set(history) where id >= 0 && id < scores.count {
            scores[id] = scores[id] < 0 ? scores[id] * penalty : scores[id] / penalty
        }
    }

    private mutating func draw(from scores: inout [Float]) throws(LanguageModelError) -> Int {
        let inverseTemperature = 1 / parameters.temperature
        // Candidates in descending score order; the filters only ever cut the tail.
        var candidates: [Int]
        let k = parameters.topK
        if k > 0, k < scores.count {
            let threshold = Self.kthLargest(scores, k: k)
            // HF keeps every score equal to the k-th (`scores < kth` are removed).
            candidates = scores.indices.filter { scores[$0] >= threshold }
        } else {
            candidates = Array(scores.indices)
        }
        candidates.sort { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let top = scores[candidates[0]] * inverseTemperature
        var probabilities = candidates.map { Double(Foundation.exp(scores[$0] * inverseTemperature - top)) }
        var total = probabilities.reduce(0, +)
        if parameters.topP < 1 {
            // HF sorts ascending and removes tokens whose cumulative probability is ≤ 1 − p; from
            // the top that keeps the prefix up to the first token where the remaining tail mass
            // (including it) exceeds 1 − p.
            let tailLimit = Double(1 - parameters.topP) * total
            var tail = 0.0
            var keep = candidates.count
            for index in stride(from: candidates.count - 1, through: 1, by: -1) {
                tail += probabilities[index]  // the ascending cumulative sum at this token
                if tail <= tailLimit { keep = index } else { break }
            }
            if keep < candidates.count {
                candidates.removeSubrange(keep...)
                probabilities.removeSubrange(keep...)
                total = probabilities.reduce(0, +)
            }
        }
        let target = generator.nextUnitInterval() * total
        var cumulative = 0.0
        for (index, probability) in probabilities.enumerated() {
            cumulative += probability
            if target < cumulative { return candidates[index] }
        }
        return candidates[candidates.count - 1]
    }

    /// The k-th largest score, counting repeated values (as `torch.topk(scores, k)[0][-1]`), in
    /// one pass that keeps the k largest seen so far in ascending order: a server samples every
    /// stream of a batch on a 256000-entry vocabulary each step, where a full selection or a
    /// copy into a tensor would be a noticeable share of the step. `0 < k < scores.count`.
    static func kthLargest(_ scores: [Float], k: Int) -> Float {
        var best = Array(scores[0..<k]).sorted()
        for score in scores[k...] where score > best[0] {
            var index = 0
            while index + 1 < k, best[index + 1] < score {
                best[index] = best[index + 1]
                index += 1
            }
            best[index] = score
        }
        return best[0]
    }

    /// Index of the first maximum (NaN-free scores).
    static func firstMaximum(_ scores: [Float]) -> Int {
        var best = 0
        for index in scores.indices where scores[index] > scores[best] { best = index }
        return best
    }
}
