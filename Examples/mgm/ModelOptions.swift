import ArgumentParser
import Foundation
import MGPipeline
import MGTensor
import MGVision

/// The options that choose and load a checkpoint, shared by `mgm run` and `mgm serve`.
struct ModelOptions: ParsableArguments {
    @Option(help: "The checkpoint folder (config.json, weights, tokenizer), or ORG/NAME[@REVISION] from the Hugging Face Hub.")
    var model: String?

    @Option(help: "Conversation template: a registered name (e.g. llama_3), 'official-cli' for the official CLI's folder-name rule, or 'auto' (the default: from the tokenizer's special tokens and config.json).")
    var template: String?

    @Option(help: "The CLIP tower folder, instead of resolving mm_vision_tower.")
    var visionTower: String?

    @Option(help: "The OpenCLIP ConvNeXt folder, instead of resolving mm_vision_tower_aux.")
    var visionTowerAux: String?

    @Option(help: "Arithmetic of the vision towers' linear products: 'f32' (the default, F32-accurate) or 'bf16' (opt-in: bf16 weights and activations, as the official code runs the towers on GPU; faster on CPUs with BF16 dot products).")
    var visionPrecision: VisionPrecision = .float32

    @Option(help: "Arithmetic of the decoder's multi-row products (prefill, batched decoding) with BF16 weights: 'f32' (the default, F32-accurate) or 'bf16' (opt-in: activations rounded to bf16 as PyTorch runs a BF16 model; about twice the prefill speed on CPUs with BF16 dot products).")
    var decoderPrecision: DecoderPrecisionArgument = .f32

    @Option(help: "How the decoder's KV cache stores keys and values: 'f16' (IEEE half, rounded once when written, as llama.cpp; half the cache memory and traffic) or 'f32'. By default f16 for a quantized (GGUF) decoder and f32 otherwise (parity with transformers).")
    var kvCache: KVCachePrecision?

    @Flag(help: "Load weights larger than the available memory (mapped pages are re-read from disk as needed) instead of refusing.")
    var allowPaging = false

    @Option(help: "Most prompt positions (text plus visual tokens) per request; the model's max_position_embeddings by default. The memory check sizes the KV cache for this many positions, so a large model whose full-context cache would not fit can run shorter prompts without --allow-paging.")
    var maxContext: Int?

    func validate() throws {
        if let maxContext, maxContext < 1 { throw ValidationError("--max-context must be at least 1, got \(maxContext)") }
    }

    /// A loaded checkpoint and how long loading took.
    struct Loaded {
        var model: MiniGemini
        var loadSeconds: Double
        /// What to call it: ORG/NAME for a Hub model, else the folder's name.
        var name: String
    }

    /// Resolves `--model` (the bundled model when absent; ORG/NAME from the Hub cache, ModelResolution.swift)
    /// and its towers, then loads the checkpoint with these options. `concurrentSequences`: requests
    /// that will generate at once (`mgm serve --max-batch`), which the memory check counts.
    func load(progress: (@Sendable (LoadProgress) -> Void)?, concurrentSequences: Int = 1) async throws -> Loaded {
        let resolved = try await ResolvedModel.resolve(
            model: try model ?? BundledModel.locate().path, visionTower: visionTower, visionTowerAux: visionTowerAux,
            showProgress: progress != nil)
        let start = DispatchTime.now().uptimeNanoseconds
        var options = MiniGeminiLoadOptions(visionTower: resolved.visionTower, visionTowerAux: resolved.visionTowerAux, progress: progress)
        options.templateSelection = template.map(TemplateSelection.init(argument:)) ?? .automatic
        options.visionPrecision = visionPrecision
        options.decoderPrecision = decoderPrecision.linearPrecision
        options.allowsPaging = allowPaging
        options.kvCachePrecision = kvCache
        options.limits.maximumPromptPositions = maxContext
        options.concurrentSequences = concurrentSequences
        let mgm = try MiniGemini(directory: resolved.folder, options: options)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Loaded(model: mgm, loadSeconds: seconds, name: resolved.repository?.id ?? resolved.folder.standardizedFileURL.lastPathComponent)
    }
}

extension VisionPrecision: ExpressibleByArgument {}
extension KVCachePrecision: ExpressibleByArgument {}

/// `--decoder-precision`, spelled as `--vision-precision` is.
enum DecoderPrecisionArgument: String, ExpressibleByArgument {
    case f32, bf16

    var linearPrecision: LinearPrecision { self == .bf16 ? .bfloat16Activations : .float32 }
}
