import Foundation
import MGLanguage
import MGTensor

/// Writes a decoder as one GGUF file in llama.cpp's layout: architecture metadata, tensor names,
/// the converter's Q/K row permutation (`llama`) and `1 + w` norms (`gemma`), tokenizer metadata,
/// and matrices in the types ``DecoderQuantization`` picks. Norms and biases stay F32.
public enum DecoderGGUFExport {
    /// Errors of an export.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// llama.cpp's architecture for a decoder family: `gemma` for Gemma, `llama` for the rest
    /// (Vicuna, Llama-3, Yi, Mistral and Mixtral all run as `llama`).
    public static func architecture(for family: DecoderFamily) -> String {
        family == .gemma ? "gemma" : "llama"
    }

    /// Exports the decoder tensors of `weights` (Hugging Face names) to `path`.
    /// - Parameters:
    ///   - c: the decoder's configuration.
    ///   - weights: the checkpoint's tensors (the decoder's are exported, the rest ignored).
    ///   - quantization: the tensor type, or the llama.cpp mix, to write.
    ///   - name: `general.name` in the file.
    ///   - path: the GGUF file to write.
    ///   - tokenizerDirectory: where `tokenizer.model` or `tokenizer.json` is, for the
    ///     `tokenizer.ggml.*` metadata llama.cpp needs (this project reads the tokenizer files).
    public static func export(
        configuration c: DecoderConfiguration, weights: any WeightStore, quantization: DecoderQuantization,
        tokenizerDirectory: URL, name: String, to path: String
    ) throws -> (tensorCount: Int, formats: [String: Int]) {
        let arch = architecture(for: c.family)
        var writer = GGUFWriter()
        func meta(_ key: String, _ value: GGUFValue) { writer.metadata.append((key, value)) }
        meta("general.architecture", .string(arch))
        meta("general.name", .string(name))
        meta("general.file_type", .uint32(quantization.fileType))
        meta("general.quantization_version", .uint32(2))
        meta("\(arch).context_length", .uint32(UInt32(c.maximumPositions)))
        meta("\(arch).embedding_length", .uint32(UInt32(c.hiddenSize)))
        meta("\(arch).block_count", .uint32(UInt32(c.layerCount)))
        meta("\(arch).feed_forward_length", .uint32(UInt32(c.intermediateSize)))
        meta("\(arch).rope.dimension_count", .uint32(UInt32(c.headDimension)))
        meta("\(arch).attention.head_count", .uint32(UInt32(c.attentionHeads)))
        meta("\(arch).attention.head_count_kv", .uint32(UInt32(c.keyValueHeads)))
        meta("\(arch).attention.key_length", .uint32(UInt32(c.headDimension)))
        meta("\(arch).attention.value_length", .uint32(UInt32(c.headDimension)))
        meta("\(arch).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEpsilon))
        meta("\(arch).rope.freq_base", .float32(c.ropeTheta))
        meta("\(arch).vocab_size", .uint32(UInt32(c.vocabularySize)))
        if let experts = c.expertCount, let used = c.expertsPerToken {
            meta("\(arch).expert_count", .uint32(UInt32(experts)))
            meta("\(arch).expert_used_count", .uint32(UInt32(used)))
        }
        for (key, value) in try tokenizerMetadata(directory: tokenizerDirectory, configuration: c) { meta(key, value) }

        var formats: [String: Int] = [:]
        func add(_ ggufName: String, _ tensor: Tensor) throws {
            if tensor.rank == 1 {
                writer.tensors.append((ggufName, .tensor(try tensor.asFloat32())))
                formats["F32", default: 0] += 1
                return
            }
            let rows = tensor.shape.dropLast().reduce(1, *), columns = tensor.shape[tensor.rank - 1]
            switch quantization.storage(forMatrix: ggufName, columns: columns, layerCount: c.layerCount) {
            case .plain(let dtype):
                writer.tensors.append((ggufName, .tensor(try tensor.converted(to: dtype))))
                formats[dtype.rawValue, default: 0] += 1
            case .quantized(let format):
                let matrix = try QuantizedMatrix.quantizing(try tensor.asFloat32().reshaped([rows, columns]), to: format)
                writer.tensors.append((ggufName, .quantized(matrix, shape: tensor.shape)))
                formats[format.name, default: 0] += 1
            }
        }
        func hf(_ name: String) throws -> Tensor { try weights.tensor(named: name) }
        func permuted(_ tensor: Tensor, heads: Int) throws -> Tensor {
            guard arch == "llama" else { return tensor }
            guard let order = GGUFDecoderNames.permutedRowOrder(rows: tensor.shape[0], heads: heads) else {
                throw Failure("cannot permute \(tensor.shape) for \(heads) heads")
            }
            let values = try tensor.asFloat32().floats(), width = tensor.count / tensor.shape[0]
            var out = [Float](repeating: 0, count: values.count)
            for (target, source) in order.enumerated() {
                out[target * width..<(target + 1) * width] = values[source * width..<(source + 1) * width]
            }
            return try Tensor(shape: tensor.shape, values: out)
        }
        func norm(_ tensor: Tensor) throws -> Tensor {
            guard arch == "gemma" else { return try tensor.asFloat32() }
            return try Tensor(shape: tensor.shape, values: try tensor.asFloat32().floats().map { 1 + $0 })
        }

        try add("token_embd.weight", try hf("model.embed_tokens.weight"))
        for i in 0..<c.layerCount {
            let l = "model.layers.\(i).", b = "blk.\(i)."
            try add(b + "attn_norm.weight", try norm(try hf(l + "input_layernorm.weight")))
            try add(b + "attn_q.weight", try permuted(try hf(l + "self_attn.q_proj.weight"), heads: c.attentionHeads))
            try add(b + "attn_k.weight", try permuted(try hf(l + "self_attn.k_proj.weight"), heads: c.keyValueHeads))
            try add(b + "attn_v.weight", try hf(l + "self_attn.v_proj.weight"))
            try add(b + "attn_output.weight", try hf(l + "self_attn.o_proj.weight"))
            if c.attentionBias {
                try add(b + "attn_q.bias", try permuted(try hf(l + "self_attn.q_proj.bias"), heads: c.attentionHeads))
                try add(b + "attn_k.bias", try permuted(try hf(l + "self_attn.k_proj.bias"), heads: c.keyValueHeads))
                try add(b + "attn_v.bias", try hf(l + "self_attn.v_proj.bias"))
                if weights.contains(l + "self_attn.o_proj.bias") { try add(b + "attn_output.bias", try hf(l + "self_attn.o_proj.bias")) }
            }
            try add(b + "ffn_norm.weight", try norm(try hf(l + "post_attention_layernorm.weight")))
            if let experts = c.expertCount {
                let m = l + "block_sparse_moe."
                try add(b + "ffn_gate_inp.weight", try hf(m + "gate.weight"))
                for (w, target) in [("w1", "ffn_gate_exps"), ("w3", "ffn_up_exps"), ("w2", "ffn_down_exps")] {
                    let parts = try (0..<experts).map { try hf("\(m)experts.\($0).\(w).weight").asFloat32() }
                    let shape = [experts] + parts[0].shape
                    try add(b + target + ".weight", try Tensor(shape: shape, values: parts.flatMap { $0.floats() }))
                }
            } else {
                try add(b + "ffn_gate.weight", try hf(l + "mlp.gate_proj.weight"))
                try add(b + "ffn_up.weight", try hf(l + "mlp.up_proj.weight"))
                try add(b + "ffn_down.weight", try hf(l + "mlp.down_proj.weight"))
            }
        }
        try add("output_norm.weight", try norm(try hf("model.norm.weight")))
        if !c.tiedEmbeddings { try add("output.weight", try hf("lm_head.weight")) }
        try writer.write(to: path)
        return (writer.tensors.count, formats)
    }

    /// llama.cpp's `tokenizer.ggml.*` keys from `tokenizer.model` (SentencePiece, model `llama`) or
    /// else `tokenizer.json` (byte-level BPE, model `gpt2`).
    static func tokenizerMetadata(directory: URL, configuration c: DecoderConfiguration) throws -> [(String, GGUFValue)] {
        var entries: [(String, GGUFValue)] = []
        let spURL = directory.appendingPathComponent("tokenizer.model")
        let jsonURL = directory.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: spURL.path) {
            let model = try SentencePieceModel(contentsOf: spURL)
            var pieces = model.pieces, scores = model.scores, types = model.types.map { Int32($0.rawValue) }
            // llama.cpp wants one entry per embedding row; pad like its converter does.
            while pieces.count < c.vocabularySize {
                pieces.append("[PAD\(pieces.count)]"); scores.append(-1000); types.append(4)
            }
            entries.append(("tokenizer.ggml.model", .string("llama")))
            entries.append(("tokenizer.ggml.tokens", .array(elementType: .string, pieces.map { .string($0) })))
            entries.append(("tokenizer.ggml.scores", .array(elementType: .float32, scores.map { .float32($0) })))
            entries.append(("tokenizer.ggml.token_type", .array(elementType: .int32, types.map { .int32($0) })))
            entries.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(max(0, model.trainerSpec.unknownID)))))
        } else if FileManager.default.fileExists(atPath: jsonURL.path) {
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: jsonURL)) as? [String: Any]
            guard let model = object?["model"] as? [String: Any], let vocab = model["vocab"] as? [String: Int] else {
                throw Failure("tokenizer.json has no model.vocab")
            }
            let count = max(c.vocabularySize, (vocab.values.max() ?? -1) + 1)
            var tokens = (0..<count).map { "[PAD\($0)]" }
            var types = [Int32](repeating: 1, count: count)
            for (token, id) in vocab where id < count { tokens[id] = token }
            for added in (object?["added_tokens"] as? [[String: Any]]) ?? [] {
                guard let id = added["id"] as? Int, let content = added["content"] as? String, id < count else { continue }
                tokens[id] = content
                types[id] = (added["special"] as? Bool) == true ? 3 : 4
            }
            let merges: [String] = ((model["merges"] as? [Any]) ?? []).compactMap { merge in
                if let text = merge as? String { return text }
                if let pair = merge as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
                return nil
            }
            entries.append(("tokenizer.ggml.model", .string("gpt2")))
            entries.append(("tokenizer.ggml.pre", .string(c.family == .llama && count > 100_000 ? "llama-bpe" : "default")))
            entries.append(("tokenizer.ggml.tokens", .array(elementType: .string, tokens.map { .string($0) })))
            entries.append(("tokenizer.ggml.token_type", .array(elementType: .int32, types.map { .int32($0) })))
            entries.append(("tokenizer.ggml.merges", .array(elementType: .string, merges.map { .string($0) })))
        } else {
            throw Failure("\(directory.path) has neither tokenizer.model nor tokenizer.json")
        }
        if let bos = c.bosTokenID { entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = c.eosTokenIDs.first { entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(true)))
        entries.append(("tokenizer.ggml.add_eos_token", .bool(false)))
        return entries
    }
}
