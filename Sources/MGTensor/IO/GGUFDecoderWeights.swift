/// A GGUF decoder (llama.cpp names) presented under Hugging Face names, so the decoder loads from it
/// exactly as from safetensors: `model.layers.0.self_attn.q_proj.weight` reads `blk.0.attn_q.weight`
/// with llama's rotary row permutation undone, Gemma norms get their `+1` removed, and Mixtral's
/// stacked expert tensors are split into `block_sparse_moe.experts.E.w1/w2/w3` views (no copy).
///
/// ``matrix(named:)`` hands linear layers the mapped blocks, the embedding table included. The q/k
/// matrices of `llama` stay in GGUF's row order (``rotaryPairsAdjacent``: the decoder rotates
/// adjacent pairs, as llama.cpp does), unless the file has q/k biases or `reorderingRotaryRows` was
/// asked for: then their rows are reordered into a copy in their stored blocks (the mapped pages
/// dropped from the resident set). ``tensor(named:)`` of a
/// quantized tensor dequantizes it to F32 (4 bytes per value): for tests and tools, never for a
/// model's matrices.
public final class GGUFDecoderWeights: WeightStore {
    /// The underlying file.
    public let file: GGUFFile
    /// `general.architecture` (`llama`, `gemma`).
    public let architecture: String
    /// Hugging Face names, sorted.
    public let names: [String]
    private let sources: [String: GGUFDecoderNames.Source]
    /// `llama` q/k matrices are handed out as stored, each head's rotary pairs in adjacent rows.
    public let rotaryPairsAdjacent: Bool

    /// Wraps `file`, reading the architecture and head counts from its metadata.
    /// - Parameters:
    ///   - file: the opened GGUF decoder.
    ///   - reorderingRotaryRows: give `llama` q/k matrices in Hugging Face row order (a copy)
    ///     instead of as stored (tests of the two layouts against each other).
    /// - Throws: ``CheckpointError/invalidGGUF(path:problem:)`` when the metadata lacks them, or a
    ///   stacked expert tensor has the wrong rank.
    public init(file: GGUFFile, reorderingRotaryRows: Bool = false) throws(CheckpointError) {
        self.file = file
        guard let architecture = file.metadata["general.architecture"]?.string else {
            throw .invalidGGUF(path: file.path, problem: .invalidShape(tensor: "general.architecture missing", dimensions: []))
        }
        self.architecture = architecture
        let heads = file.metadata["\(architecture).attention.head_count"]?.integer ?? 0
        let kvHeads = file.metadata["\(architecture).attention.head_count_kv"]?.integer ?? heads
        var sources: [String: GGUFDecoderNames.Source] = [:]
        // Enumerate the HF names this file can answer: walk the GGUF tensors and name them back.
        for name in file.tensorOrder {
            for candidate in Self.huggingFaceNames(forGGUFName: name, info: file.tensorInfos[name]) {
                guard let source = GGUFDecoderNames.source(
                    forHuggingFaceName: candidate, architecture: architecture, headCount: heads, keyValueHeadCount: kvHeads)
                else { continue }
                sources[candidate] = source
            }
        }
        self.sources = sources
        names = sources.keys.sorted()
        // Biases are tensors, which keep Hugging Face order: with q/k biases the matrices must too.
        let permuted = sources.filter { if case .ropePermuted = $0.value { return true } else { return false } }
        rotaryPairsAdjacent = !reorderingRotaryRows && !permuted.isEmpty && !permuted.keys.contains { $0.hasSuffix(".bias") }
    }

    /// The HF names a GGUF tensor stands for (several for a stacked expert tensor).
    private static func huggingFaceNames(forGGUFName name: String, info: GGUFFile.TensorInfo?) -> [String] {
        switch name {
        case "token_embd.weight": return ["model.embed_tokens.weight"]
        case "output.weight": return ["lm_head.weight"]
        case "output_norm.weight": return ["model.norm.weight"]
        default: break
        }
        let parts = name.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]) else { return [] }
        let l = "model.layers.\(layer)."
        let map: [String: String] = [
            "attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
            "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
            "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
            "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
            "attn_v.bias": "self_attn.v_proj.bias", "attn_output.bias": "self_attn.o_proj.bias",
            "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
            "ffn_down.weight": "mlp.down_proj.weight", "ffn_gate_inp.weight": "block_sparse_moe.gate.weight",
        ]
        if let field = map[String(parts[2])] { return [l + field] }
        let experts: [String: String] = ["ffn_gate_exps.weight": "w1", "ffn_down_exps.weight": "w2", "ffn_up_exps.weight": "w3"]
        guard let w = experts[String(parts[2])], let info, info.shape.count == 3 else { return [] }
        return (0..<info.shape[0]).map { "\(l)block_sparse_moe.experts.\($0).\(w).weight" }
    }

    public func contains(_ name: String) -> Bool { sources[name] != nil }

    public func matrix(named name: String) throws(CheckpointError) -> MatrixWeight {
        guard let source = sources[name] else { throw .tensorNotFound(path: file.path, tensor: name) }
        switch source {
        case .same(let gguf): return try file.matrix(named: gguf)
        case .unitOffsetNorm: return .dense(try tensor(named: name))
        case .ropePermuted(let gguf, _) where rotaryPairsAdjacent:
            return try file.matrix(named: gguf)
        case .ropePermuted(let gguf, let heads):
            switch try file.matrix(named: gguf) {
            case .dense:
                let copy = try tensor(named: name)
                file.releaseResidentPages(ofTensor: gguf)
                return .dense(copy)
            case .quantized(let matrix):
                guard let order = GGUFDecoderNames.unpermutedRowOrder(rows: matrix.rows, heads: heads) else { throw invalid(gguf) }
                let copy: QuantizedMatrix
                do { copy = try matrix.permutingRows(order) } catch { throw invalid(gguf) }
                // The reordered copy replaces the mapped rows: keep them out of the resident set.
                file.releaseResidentPages(ofTensor: gguf)
                return .quantized(copy)
            }
        case .expert(let gguf, let index):
            let (info, _) = try file.storage(named: gguf)
            switch try file.matrix(named: gguf) {
            case .dense: return .dense(try tensor(named: name))
            case .quantized(let matrix):
                let rows = info.shape[1]
                do { return .quantized(try matrix.rows(index * rows..<(index + 1) * rows)) } catch { throw invalid(gguf) }
            }
        }
    }

    public func tensor(named name: String) throws(CheckpointError) -> Tensor {
        guard let source = sources[name] else { throw .tensorNotFound(path: file.path, tensor: name) }
        do {
            switch source {
            case .same(let gguf):
                return try file.tensor(named: gguf)
            case .unitOffsetNorm(let gguf):
                let stored = try file.tensor(named: gguf).asFloat32()
                return try Tensor(shape: stored.shape, values: stored.floats().map { $0 - 1 })
            case .ropePermuted(let gguf, let heads):
                let stored = try file.tensor(named: gguf)
                let rows = stored.shape[0], rowBytes = stored.storage.byteCount / rows
                guard let order = GGUFDecoderNames.unpermutedRowOrder(rows: rows, heads: heads) else { throw invalid(gguf) }
                let copy = TensorStorage(allocating: stored.storage.byteCount, dtype: stored.dtype)
                for (target, source) in order.enumerated() {
                    (copy.mutableBase + target * rowBytes).copyMemory(from: stored.storage.base + source * rowBytes, byteCount: rowBytes)
                }
                return Tensor(shape: stored.shape, count: stored.count, storage: copy)
            case .expert(let gguf, let index):
                let (info, storage) = try file.storage(named: gguf)
                guard info.shape.count == 3, index < info.shape[0] else { throw invalid(gguf) }
                if case .quantized = info.type {
                    guard case .quantized(let matrix) = try matrix(named: name) else { throw invalid(gguf) }
                    return try matrix.dequantized()
                }
                let per = info.byteCount / info.shape[0]
                let view = TensorStorage(borrowing: storage.base + index * per, byteCount: per, dtype: storage.dtype, owner: storage)
                return Tensor(shape: Array(info.shape.dropFirst()), count: info.shape[1] * info.shape[2], storage: view)
            }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .invalidGGUF(path: file.path, problem: .invalidShape(tensor: name, dimensions: []))
        }
    }

    private func invalid(_ gguf: String) -> CheckpointError {
        .invalidGGUF(path: file.path, problem: .invalidShape(tensor: gguf, dimensions: file.tensorInfos[gguf]?.shape.reversed().map { UInt64($0) } ?? []))
    }
}
