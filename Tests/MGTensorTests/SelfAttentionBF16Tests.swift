import Foundation
import MGTestSupport
import Testing

@testable import MGTensor

/// `bf16SelfAttention` (the bf16 vision mode's attention) against a Float64 attention of the
/// bf16-rounded queries, keys and values, at the active kernel tier (`.ci/run` repeats it under every
/// `MG_MAX_ISA` cap). At avx512bf16 and above both products run on `vdpbf16ps` and the probabilities
/// are rounded to bf16 too (2⁻⁹ relative each), so the bound is ``bf16Bound``; below it the rounded
/// operands go through the F32 attention and must match to F32 accuracy (``f32Bound``). A second
/// check fails if the operands were not rounded at all (the mode did not run).
@Suite struct SelfAttentionBF16Tests {
    /// max |Δ| / max |reference| with probabilities rounded to bf16.
    static let bf16Bound = 4e-3  // measured 7.9e-4–1.3e-3 (avx512bf16); lower tiers ≤ 6e-7
    /// The same below the avx512bf16 tier (F32 products of the rounded operands).
    static let f32Bound = 1e-5
    /// The error against the unrounded operands stays above this when q/k/v were rounded.
    static let roundingFloor = 1e-4

    /// (images, positions, heads, depth): CLIP ViT-L's head shape with a one-row last block (577 =
    /// 12·48 + 1), positions below one vector, odd positions, depths that are not a multiple of 16
    /// and an odd depth (pair padding).
    @Test(arguments: [(1, 577, 1, 64), (2, 37, 3, 64), (1, 17, 2, 24), (1, 9, 1, 7), (2, 130, 2, 80)])
    func matchesFloat64OfRoundedOperands(shape: (Int, Int, Int, Int)) throws {
        let (batch, tokens, heads, depth) = shape
        let width = 3 * heads * depth
        let qkv = try DeterministicData.tensor(seed: UInt64(tokens * 7 + depth), shape: [batch, tokens, width], low: -2, high: 2)
        let scale = 1 / Float(depth).squareRoot()
        let output = try bf16SelfAttention(packedQKV: qkv, heads: heads, scale: scale)
        #expect(output.shape == [batch, tokens, heads * depth])

        let values = try qkv.floats()
        let rounded = try qkv.converted(to: .bf16).floats()
        let actual = try output.floats()
        let errorRounded = relativeError(
            actual, reference(rounded, batch: batch, tokens: tokens, heads: heads, depth: depth, scale: Double(scale)))
        let errorExact = relativeError(
            actual, reference(values, batch: batch, tokens: tokens, heads: heads, depth: depth, scale: Double(scale)))
        let tier = KernelTier.active
        let bound = tier >= .avx512BF16 ? Self.bf16Bound : Self.f32Bound
        print("[bf16 attention] \(shape) tier \(tier): error vs rounded operands \(errorRounded), vs unrounded \(errorExact)")
        #expect(errorRounded <= bound, "error \(errorRounded) against the rounded operands at tier \(tier)")
        #expect(errorExact > Self.roundingFloor, "matched the unrounded operands to \(errorExact): q/k/v were not rounded")
    }

    @Test func rejectsBadShapes() throws {
        let flat = try DeterministicData.tensor(seed: 1, shape: [4, 96])
        #expect(throws: TensorError.self) { try bf16SelfAttention(packedQKV: flat, heads: 2, scale: 1) }
        let uneven = try DeterministicData.tensor(seed: 1, shape: [1, 4, 100])
        #expect(throws: TensorError.self) { try bf16SelfAttention(packedQKV: uneven, heads: 2, scale: 1) }
        let empty = try Tensor.zeros([1, 0, 96])
        #expect(throws: TensorError.self) { try bf16SelfAttention(packedQKV: empty, heads: 2, scale: 1) }
        #expect(throws: TensorError.self) { try bf16SelfAttention(packedQKV: try DeterministicData.tensor(seed: 1, shape: [1, 4, 96]), heads: 0, scale: 1) }
    }

    /// Float64 softmax(scale · Q·Kᵀ)·V per image and head, read from packed `[N, T, 3·H·D]` rows.
    private func reference(_ qkv: [Float], batch: Int, tokens: Int, heads: Int, depth: Int, scale: Double) -> [Double] {
        let channels = heads * depth, width = 3 * channels
        var out = [Double](repeating: 0, count: batch * tokens * channels)
        var scores = [Double](repeating: 0, count: tokens)
        for image in 0..<batch {
            for head in 0..<heads {
                let base = image * tokens * width + head * depth
                for i in 0..<tokens {
                    var maximum = -Double.infinity
                    for j in 0..<tokens {
                        var sum = 0.0
                        for c in 0..<depth { sum += Double(qkv[base + i * width + c]) * Double(qkv[base + j * width + channels + c]) }
                        scores[j] = sum * scale
                        maximum = max(maximum, scores[j])
                    }
                    var total = 0.0
                    for j in 0..<tokens {
                        scores[j] = Foundation.exp(scores[j] - maximum)
                        total += scores[j]
                    }
                    let row = (image * tokens + i) * channels + head * depth
                    for j in 0..<tokens {
                        let weight = scores[j] / total
                        for c in 0..<depth { out[row + c] += weight * Double(qkv[base + j * width + 2 * channels + c]) }
                    }
                }
            }
        }
        return out
    }

    private func relativeError(_ actual: [Float], _ expected: [Double]) -> Double {
        var difference = 0.0, reference = 0.0
        for index in expected.indices {
            difference = max(difference, abs(Double(actual[index]) - expected[index]))
            reference = max(reference, abs(expected[index]))
        }
        return difference / max(reference, .leastNormalMagnitude)
    }
}
