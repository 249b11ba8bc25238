/// How llama.cpp names a decoder's tensors in GGUF, and the two value transformations its converter
/// (`convert_hf_to_gguf.py`) applies, so a Hugging Face decoder maps to GGUF and back exactly.
///
/// - Architecture `llama` (Llama, Vicuna, Llama-3, Yi, Mistral, Mixtral) rotates adjacent pairs, so
///   the converter permutes the rows of `q_proj` (and its bias) per head with `head_count` heads and
///   of `k_proj` with `head_count_kv` heads: GGUF row `h·D + 2i + s` is HF row `h·D + s·D/2 + i`.
/// - Architecture `gemma` stores RMSNorm weights as `1 + w` (Gemma's norm multiplies by `1 + w`).
public enum GGUFDecoderNames {
    /// What a GGUF tensor is, seen from a Hugging Face checkpoint.
    public enum Source: Sendable, Equatable {
        /// The same values under another name.
        case same(String)
        /// Rows permuted for llama's rotary layout with `heads` heads.
        case ropePermuted(String, heads: Int)
        /// A Gemma norm weight stored as `1 + w`.
        case unitOffsetNorm(String)
        /// One expert's matrix of a stacked `[experts, out, in]` tensor.
        case expert(String, index: Int)
    }

    /// The GGUF tensor behind the Hugging Face name `name` (`model.layers.3.self_attn.q_proj.weight`),
    /// or nil for a name outside the decoder. `headCount` / `keyValueHeadCount` as in the config.
    public static func source(
        forHuggingFaceName name: String, architecture: String, headCount: Int, keyValueHeadCount: Int
    ) -> Source? {
        let llama = architecture == "llama", gemma = architecture == "gemma"
        switch name {
        case "model.embed_tokens.weight": return .same("token_embd.weight")
        case "lm_head.weight": return .same("output.weight")
        case "model.norm.weight": return gemma ? .unitOffsetNorm("output_norm.weight") : .same("output_norm.weight")
        default: break
        }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        let field = String(rest[rest.index(after: dot)...])
        let block = "blk.\(layer)."
        switch field {
        case "input_layernorm.weight": return gemma ? .unitOffsetNorm(block + "attn_norm.weight") : .same(block + "attn_norm.weight")
        case "post_attention_layernorm.weight": return gemma ? .unitOffsetNorm(block + "ffn_norm.weight") : .same(block + "ffn_norm.weight")
        case "self_attn.q_proj.weight", "self_attn.q_proj.bias":
            let target = block + "attn_q." + (field.hasSuffix("bias") ? "bias" : "weight")
            return llama ? .ropePermuted(target, heads: headCount) : .same(target)
        case "self_attn.k_proj.weight", "self_attn.k_proj.bias":
            let target = block + "attn_k." + (field.hasSuffix("bias") ? "bias" : "weight")
            return llama ? .ropePermuted(target, heads: keyValueHeadCount) : .same(target)
        case "self_attn.v_proj.weight": return .same(block + "attn_v.weight")
        case "self_attn.v_proj.bias": return .same(block + "attn_v.bias")
        case "self_attn.o_proj.weight": return .same(block + "attn_output.weight")
        case "self_attn.o_proj.bias": return .same(block + "attn_output.bias")
        case "mlp.gate_proj.weight": return .same(block + "ffn_gate.weight")
        case "mlp.up_proj.weight": return .same(block + "ffn_up.weight")
        case "mlp.down_proj.weight": return .same(block + "ffn_down.weight")
        case "block_sparse_moe.gate.weight": return .same(block + "ffn_gate_inp.weight")
        default: break
        }
        // block_sparse_moe.experts.E.w1/w2/w3.weight → ffn_gate_exps / ffn_down_exps / ffn_up_exps.
        let expertPrefix = "block_sparse_moe.experts."
        guard field.hasPrefix(expertPrefix) else { return nil }
        let parts = field.dropFirst(expertPrefix.count).split(separator: ".")
        guard parts.count == 3, let expert = Int(parts[0]), expert >= 0, parts[2] == "weight" else { return nil }
        switch parts[1] {
        case "w1": return .expert(block + "ffn_gate_exps.weight", index: expert)
        case "w2": return .expert(block + "ffn_down_exps.weight", index: expert)
        case "w3": return .expert(block + "ffn_up_exps.weight", index: expert)
        default: return nil
        }
    }

    /// The row order that turns the llama-permuted rows of a `[heads·D, …]` matrix back into HF
    /// order: HF row `r` is GGUF row `order[r]`.
    public static func unpermutedRowOrder(rows: Int, heads: Int) -> [Int]? {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else { return nil }
        let d = rows / heads, half = d / 2
        return (0..<rows).map { r in
            let h = r / d, within = r % d, s = within / half, i = within % half
            return h * d + 2 * i + s
        }
    }

    /// The inverse order: GGUF row `g` is HF row `order[g]` (what the converter applies).
    public static func permutedRowOrder(rows: Int, heads: Int) -> [Int]? {
        guard let back = unpermutedRowOrder(rows: rows, heads: heads) else { return nil }
        var order = [Int](repeating: 0, count: rows)
        for (hf, gguf) in back.enumerated() { order[gguf] = hf }
        return order
    }
}
