import CMGKernels
import Foundation
import MGTensor

// Mixtral's sparse MLP, as transformers' MixtralSparseMoeBlock at inference (no router jitter):
// router logits → softmax in float32 → top-k experts → weights renormalised to sum to 1 →
// Σ_k w_k · w2(silu(w1 x) ⊙ w3 x). Each expert runs once on just the tokens routed to it.

/// The router and experts of one Mixtral layer.
struct MixtureOfExperts: Sendable {
    /// One expert's SwiGLU MLP: `w1` gate `[I, hidden]`, `w3` up `[I, hidden]`, `w2` down `[hidden, I]`.
    struct Expert: Sendable {
        let w1: Tensor, w2: Tensor, w3: Tensor
    }

    let router: Tensor       // [E, hidden]
    let experts: [Expert]
    let expertsPerToken: Int

    /// Routing of one token: chosen experts (best first) and their renormalised weights.
    struct Route: Equatable {
        let experts: [Int]
        let weights: [Float]
    }

    /// The routes of `x` `[T, hidden]`.
    func routes(_ x: Tensor) throws(TensorError) -> [Route] {
        let logits = try linear(x, weight: router).floats()   // [T, E]
        let count = experts.count
        return (0..<x.shape[0]).map { t in
            let row = logits[t * count..<(t + 1) * count]
            let maximum = row.max() ?? 0
            let exps = row.map { Foundation.exp($0 - maximum) }
            let total = exps.reduce(0, +)
            let probabilities = exps.map { $0 / total }
            // Top-k by probability; ties go to the lower expert index.
            let chosen = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
                .prefix(expertsPerToken)
            let picked = chosen.map { probabilities[$0] }
            let sum = picked.reduce(0, +)
            return Route(experts: Array(chosen), weights: picked.map { $0 / sum })
        }
    }

    func callAsFunction(_ x: Tensor, activation: DecoderActivation, precision: LinearPrecision) throws(TensorError) -> Tensor {
        let length = x.shape[0], hidden = x.shape[1]
        let routes = try routes(x)
        let input = x.floats()
        var output = try Tensor.zeros([length, hidden])
        // Experts in index order, each on its tokens; contributions accumulate in that order.
        for (e, expert) in experts.enumerated() {
            var rows: [Int64] = [], weights: [Float] = []
            for (t, route) in routes.enumerated() {
                if let k = route.experts.firstIndex(of: e) {
                    rows.append(Int64(t))
                    weights.append(route.weights[k])
                }
            }
            if rows.isEmpty { continue }
            var gathered = [Float](repeating: 0, count: rows.count * hidden)
            for (i, row) in rows.enumerated() {
                gathered.replaceSubrange(i * hidden..<(i + 1) * hidden, with: input[Int(row) * hidden..<(Int(row) + 1) * hidden])
            }
            let tokens = try Tensor(shape: [rows.count, hidden], values: gathered)
            let y = try denseMLP(
                tokens, gate: expert.w1, up: expert.w3, down: expert.w2, activation: activation, precision: precision)
            y.withUnsafeFloats { yBuffer in
                output.withUnsafeMutableFloats { out in
                    mg_decoder_scatter_add(out.baseAddress!, yBuffer.baseAddress!, rows, weights, rows.count, hidden)
                }
            }
        }
        return output
    }
}
