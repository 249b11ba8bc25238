import Foundation
import MGLanguage
import MGTensor

/// The memory a Mini-Gemini checkpoint needs, estimated from file headers before any weight is
/// read, so that a model too large for the machine is refused with a clear error instead of being
/// killed by the kernel halfway through loading or its first request.
///
/// Weights are summed from the safetensors and GGUF headers and `.bin` tensor records (opening them
/// validates the headers but reads no weight data). The loaders keep weights memory-mapped in their
/// stored dtype, so most weight bytes are *file-backed*: the kernel pages them in from the file
/// and can drop them again. Only tensors that must be copied (legacy `.bin` files, whose tensors
/// are unaligned, and non-contiguous `.bin` tensors) count as *anonymous* memory. Activations are
/// estimated from `config.json`: the KV cache at the full context (F16 for a GGUF decoder, F32
/// otherwise, unless a precision is given), the prefill's widest
/// intermediate rows and attention scores, the logits, and the vision towers' feature maps.
///
/// ```swift
/// let estimate = try MemoryEstimate(checkpoint: folder, configuration: configuration, towers: [clip, convNeXt])
/// try estimate.check()   // MiniGeminiError.limitExceeded when it cannot fit
/// print(estimate)        // "9.1 GB: 7.6 GB mapped weights, 0 B copied weights, 1.5 GB activations"
/// ```
public struct MemoryEstimate: Sendable, Equatable, CustomStringConvertible {
    /// Weight bytes that stay memory-mapped (file-backed pages).
    public var mappedWeightBytes: Int
    /// Weight bytes the loaders copy into process memory.
    public var copiedWeightBytes: Int
    /// Working memory of the given number of concurrent requests at the context length: one
    /// request's KV cache, prefill and vision memory, times the requests.
    public var activationBytes: Int

    /// Memory that cannot be given back to the page cache: copies plus activations.
    public var anonymousBytes: Int { copiedWeightBytes + activationBytes }
    /// Everything, mapped weights included: what runs without re-reading weights from disk.
    public var totalBytes: Int { mappedWeightBytes + anonymousBytes }

    /// Creates an estimate from its parts.
    public init(mappedWeightBytes: Int, copiedWeightBytes: Int, activationBytes: Int) {
        self.mappedWeightBytes = mappedWeightBytes
        self.copiedWeightBytes = copiedWeightBytes
        self.activationBytes = activationBytes
    }

    /// Estimates the memory of a checkpoint folder and its tower folders.
    /// - Parameters:
    ///   - checkpoint: the Mini-Gemini folder (its safetensors, sharded or not, or its `.bin` files).
    ///   - configuration: its decoded `config.json`.
    ///   - towers: the CLIP and ConvNeXt folders, whose weights are loaded too (a folder without
    ///     weights adds nothing).
    ///   - contextLength: positions per request; the model's `max_position_embeddings` by default.
    ///   - concurrentRequests: requests running at once (a server's batch), each counted whole:
    ///     its own KV cache, and its prefill and images, which may run beside the others' (a
    ///     server without batching prefills them all at once).
    ///   - kvCachePrecision: the KV cache's element type; `nil` chooses as the loader does (F16 when
    ///     the checkpoint folder holds a GGUF decoder, else F32).
    /// - Throws: ``MiniGeminiError/checkpoint(_:)`` when a weight file's header is malformed.
    public init(
        checkpoint: URL, configuration: MiniGeminiConfiguration, towers: [URL] = [],
        contextLength: Int? = nil, concurrentRequests: Int = 1, kvCachePrecision: KVCachePrecision? = nil
    ) throws(MiniGeminiError) {
        var mapped = 0, copied = 0
        for folder in [checkpoint] + towers {
            do throws(CheckpointError) {
                let weights = try Self.weightBytes(in: folder)
                mapped = mapped.saturatingAdd(weights.mapped)
                copied = copied.saturatingAdd(weights.copied)
            } catch {
                throw .checkpoint(error)
            }
        }
        let positions = max(1, contextLength ?? configuration.decoder.maximumPositions)
        let holdsGGUF = ((try? FileManager.default.contentsOfDirectory(atPath: checkpoint.path)) ?? []).contains { $0.hasSuffix(".gguf") }
        let cachePrecision = kvCachePrecision ?? (holdsGGUF ? .float16 : .float32)
        let perRequest = Self.languageActivationBytes(
            configuration.decoder, positions: positions, cacheElementBytes: cachePrecision.elementBytes)
            .saturatingAdd(Self.visionActivationBytes(configuration))
        self.init(
            mappedWeightBytes: mapped, copiedWeightBytes: copied,
            activationBytes: perRequest.saturatingMultiply(max(1, concurrentRequests)))
    }

    /// Refuses a checkpoint that cannot fit: its anonymous memory alone (copies and activations)
    /// exceeds `availableBytes`, or everything including mapped weights exceeds it and
    /// `allowPaging` is false (mapped weights larger than memory load, but every token would
    /// re-read them from disk).
    /// - Parameters:
    ///   - availableBytes: memory to fit in; `MemAvailable` of `/proc/meminfo` by default (no check
    ///     when it cannot be read, as on macOS).
    ///   - allowPaging: accept mapped weights that do not fit in memory.
    /// - Throws: ``MiniGeminiError/limitExceeded(what:value:limit:)`` naming the bytes needed.
    public func check(availableBytes: Int? = MemoryEstimate.availableMemoryBytes(), allowPaging: Bool = false) throws(MiniGeminiError) {
        guard let availableBytes else { return }
        let summary = "\(self); \(Self.format(availableBytes)) available"
        if anonymousBytes > availableBytes {
            throw .limitExceeded(what: "estimated memory without mapped weights in bytes [\(summary)]", value: anonymousBytes, limit: availableBytes)
        }
        if !allowPaging, totalBytes > availableBytes {
            throw .limitExceeded(what: "estimated memory in bytes [\(summary)]", value: totalBytes, limit: availableBytes)
        }
    }

    /// `MemAvailable` from `/proc/meminfo` in bytes: what the kernel can hand out without swapping,
    /// reclaimable page cache included. `nil` where that file does not exist.
    public static func availableMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        return parseMemAvailable(text)
    }

    /// The `MemAvailable:` line of a `/proc/meminfo` text, in bytes.
    static func parseMemAvailable(_ text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kibibytes = Int(fields[1]) else { return nil }
            return kibibytes.saturatingMultiply(1024)
        }
        return nil
    }

    public var description: String {
        "\(Self.format(totalBytes)): \(Self.format(mappedWeightBytes)) mapped weights, "
            + "\(Self.format(copiedWeightBytes)) copied weights, \(Self.format(activationBytes)) activations"
    }

    static func format(_ bytes: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    // MARK: Weights

    /// Weight bytes of a folder: its GGUF decoder if any, plus its safetensors (sharded or single)
    /// when it has any, else its PyTorch checkpoint, else nothing.
    static func weightBytes(in folder: URL) throws(CheckpointError) -> (mapped: Int, copied: Int) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        // A quantized folder: the decoder's GGUF beside the other weights' safetensors.
        var gguf = (mapped: 0, copied: 0)
        for name in names where name.hasSuffix(".gguf") {
            let bytes = try ggufWeightBytes(GGUFFile(contentsOf: folder.appendingPathComponent(name)))
            gguf = (gguf.mapped.saturatingAdd(bytes.mapped), gguf.copied.saturatingAdd(bytes.copied))
        }
        let others = try safetensorsOrTorchWeightBytes(in: folder, names: names)
        return (others.mapped.saturatingAdd(gguf.mapped), others.copied.saturatingAdd(gguf.copied))
    }

    /// Tensor bytes of a GGUF decoder: mapped, except `llama`'s q/k matrices when the file has q/k
    /// biases, whose rows the reader then reorders into a copy (``/MGTensor/GGUFDecoderWeights``;
    /// without biases they stay mapped, rotated in adjacent pairs).
    static func ggufWeightBytes(_ file: GGUFFile) -> (mapped: Int, copied: Int) {
        let permutes = file.metadata["general.architecture"]?.string == "llama"
            && file.tensorInfos.keys.contains { $0.hasSuffix(".attn_q.bias") || $0.hasSuffix(".attn_k.bias") }
        var mapped = 0, copied = 0
        for (name, info) in file.tensorInfos {
            if permutes, name.hasSuffix(".attn_q.weight") || name.hasSuffix(".attn_k.weight") {
                copied = copied.saturatingAdd(info.byteCount)
            } else {
                mapped = mapped.saturatingAdd(info.byteCount)
            }
        }
        return (mapped, copied)
    }

    private static func safetensorsOrTorchWeightBytes(in folder: URL, names: [String]) throws(CheckpointError) -> (mapped: Int, copied: Int) {
        if names.contains(where: { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }) {
            let weights = try ShardedSafetensors(contentsOf: folder)
            // Misaligned tensors are copied, but safetensors writers align to 8 bytes; count all as mapped.
            let bytes = weights.shards.reduce(0) { total, shard in
                shard.entries.values.reduce(total) { $0.saturatingAdd($1.dataRange.count) }
            }
            return (bytes, 0)
        }
        guard names.contains(where: { $0.hasSuffix(".bin") && $0 != "training_args.bin" }) else { return (0, 0) }
        var mapped = 0, copied = 0
        for checkpoint in try ShardedTorchCheckpoint(contentsOf: folder).shards {
            for entry in checkpoint.entries.values {
                let bytes = (Shape.elementCount(entry.shape) ?? 0).saturatingMultiply(entry.dtype.byteSize)
                if checkpoint.format == .zip && entry.isContiguous {
                    mapped = mapped.saturatingAdd(bytes)
                } else {
                    copied = copied.saturatingAdd(bytes)
                }
            }
        }
        return (mapped, copied)
    }

    // MARK: Activations

    /// One request's language-model memory: the KV cache for `positions` (`cacheElementBytes` per
    /// element: 4 for F32, 2 for F16), and the prefill of
    /// that many positions (residual and normed rows, Q/K/V/O, the MLP's gate and up rows, the
    /// attention blocks' scores) plus last-position logits.
    static func languageActivationBytes(_ decoder: DecoderConfiguration, positions: Int, cacheElementBytes: Int = 4) -> Int {
        let float = MemoryLayout<Float>.size
        let kvWidth = decoder.keyValueHeads.saturatingMultiply(decoder.headDimension)
        let cache = [2, decoder.layerCount, kvWidth, positions, cacheElementBytes].reduce(1) { $0.saturatingMultiply($1) }
        let qWidth = decoder.attentionHeads.saturatingMultiply(decoder.headDimension)
        let rowWidth = [2 * decoder.hiddenSize, 2 * qWidth, 2 * kvWidth, 3 * decoder.intermediateSize]
            .reduce(0) { $0.saturatingAdd($1) }
        let rows = [positions, rowWidth, float].reduce(1) { $0.saturatingMultiply($1) }
        // Attention runs in blocks of query rows with about 1 MB of scores each, one block per core
        // at a time (MGTensor's AttentionPlan), so the scores never hold every position pair.
        let allScores = [decoder.attentionHeads, positions, positions, float].reduce(1) { $0.saturatingMultiply($1) }
        let scores = min(allScores, (1 << 20).saturatingMultiply(ProcessInfo.processInfo.activeProcessorCount))
        let logits = decoder.vocabularySize.saturatingMultiply(2 * float)
        return [cache, rows, scores, logits].reduce(0) { $0.saturatingAdd($1) }
    }

    /// One request's vision memory, for one image: the CLIP views (ViT-L/14 at 336: 577 tokens of
    /// 1024, a few live copies each, plus one layer's attention scores) and the ConvNeXt
    /// high-resolution maps (the first stage, 192 channels at a quarter of the side, is the
    /// widest; several are alive at once). Sized from the configuration where it says, else for
    /// the released towers.
    static func visionActivationBytes(_ configuration: MiniGeminiConfiguration) -> Int {
        let float = MemoryLayout<Float>.size
        let views = configuration.imageGrid * configuration.imageGrid + (configuration.imageGlobal ? 1 : 0)
        let tokens = 577, width = configuration.lowResolutionWidth ?? 1024
        let clipPerView = [tokens, width, 8, float].reduce(1) { $0.saturatingMultiply($1) }
            .saturatingAdd([16, tokens, tokens, float].reduce(1) { $0.saturatingMultiply($1) })
        var total = clipPerView.saturatingMultiply(views)
        if configuration.hasHighResolutionBranch, let side = configuration.imageSizeAux {
            let quarter = side / 4
            let stage = [192, quarter, quarter, float].reduce(1) { $0.saturatingMultiply($1) }
            total = total.saturatingAdd(stage.saturatingMultiply(6))
        }
        return total
    }
}

extension Int {
    fileprivate func saturatingAdd(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    fileprivate func saturatingMultiply(_ other: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
