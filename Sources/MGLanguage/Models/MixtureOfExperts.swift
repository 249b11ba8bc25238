import Foundation
import MGTensor

// Mixtral's sparse MLP, as transformers' MixtralSparseMoeBlock at inference (no router jitter):
// router logits → softmax in float32 → top-k experts → weights renormalised to sum to 1 →
// Σ_k w_k · w2(silu(w1 x) ⊙ w3 x). Each expert runs once on just the tokens routed to it.

/// The router and experts of one Mixtral layer.
struct MixtureOfExperts: Sendable {
    /// One expert's SwiGLU MLP: `w1` gate `[I, hidden]`, `w3` up `[I, hidden]`, `w2` down `[hidden, I]`.
    struct Expert: Sendable {
        let w1: MatrixWeight, w2: MatrixWeight, w3: MatrixWeight
    }

    let router: MatrixWeight  // [E, hidden]
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

    func callAsFunction(_ x: Tensor, activation: GatedActivation, precision: LinearPrecision) throws(TensorError) -> Tensor {
        let length = x.shape[0], hidden = x.shape[1]
        let routes = try routes(x)
        var output = try Tensor.zeros([length, hidden])
        // Experts in index order, each on its tokens; contributions accumulate in that order.
        for (e, expert) in experts.enumerated() {
            var rows: [Int] = [], weights: [Float] = []
            for (t, route) in routes.enumerated() {
                if let k = route.experts.firstIndex(of: e) {
                    rows.append(t)
                    weights.append(route.weights[k])
                }
            }
            if rows.isEmpty { continue }
            let tokens = try embedding(ids: rows, table: x)     // [rows, hidden], the routed tokens
            let y = try gatedMLP(
                tokens, gate: expert.w1, up: expert.w3, down: expert.w2, activation: activation, precision: precision)
            try scatterAdd(y, into: &output, rows: rows, weights: weights)
        }
        return output
    }
}
