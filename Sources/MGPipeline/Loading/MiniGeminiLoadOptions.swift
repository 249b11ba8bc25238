import Foundation
import MGTensor
import MGVision

/// Choices for loading a Mini-Gemini checkpoint; the defaults do what the official code does.
public struct MiniGeminiLoadOptions: Sendable {
    /// The CLIP folder, instead of resolving `mm_vision_tower` (see ``TowerLocator``).
    public var visionTower: URL?
    /// The OpenCLIP ConvNeXt folder, instead of resolving `mm_vision_tower_aux`.
    public var visionTowerAux: URL?
    /// How the conversation template is chosen: by default from the tokenizer's special tokens and
    /// `config.json` (``TemplateChoice/fromFiles(_:)``); a registered name; or the official CLI's
    /// folder-name rule.
    public var templateSelection: TemplateSelection = .automatic
    /// A registered template name (``ConversationTemplate/named(_:)``), or `nil` for
    /// ``TemplateSelection/automatic``: a shorthand for ``templateSelection``.
    public var templateName: String? {
        get { if case .named(let name) = templateSelection { name } else { nil } }
        set { templateSelection = newValue.map { .named($0) } ?? .automatic }
    }
    /// Load `tokenizer.json` (true) or `tokenizer.model` (false). By default as the official loader:
    /// the fast tokenizer for Gemma and Mixtral models, the SentencePiece ("slow") one otherwise.
    public var useFastTokenizer: Bool?
    /// Called after each loading step, on the loading thread.
    public var progress: (@Sendable (LoadProgress) -> Void)?
    /// Caps applied to every request.
    public var limits: MiniGeminiLimits
    /// Before loading, estimate the memory the checkpoint needs (``MemoryEstimate``) and refuse
    /// with ``MiniGeminiError/limitExceeded(what:value:limit:)`` when it exceeds what is available.
    public var checksMemory: Bool = true
    /// The arithmetic of both vision towers' linear products and of patch info mining's projections:
    /// ``/MGVision/VisionPrecision/float32`` (the default, the parity path) or the opt-in
    /// ``/MGVision/VisionPrecision/bfloat16``, which runs them with bf16 weights and activations as
    /// the official code does on GPU (faster where the CPU has BF16 dot products; its error is
    /// documented on ``/MGVision/VisionPrecision`` and on `PatchInfoMining.precision`).
    public var visionPrecision: VisionPrecision = .float32
    /// The arithmetic of the decoder's multi-row products with BF16 weights (prefill, and a batched
    /// decode step of several sequences): `.float32` (the default, F32-accurate) or the opt-in
    /// `.bfloat16Activations`, which rounds the activations entering each projection to bf16 as
    /// PyTorch's BF16 model does — about twice the prefill speed on CPUs with BF16 dot products
    /// (AMX, AVX-512 BF16), ~1e-3 relative error in the logits (``/MGTensor/LinearPrecision``).
    public var decoderPrecision: LinearPrecision = .float32
    /// How the decoder's KV cache stores keys and values: `nil` (the default) picks IEEE half
    /// (``/MGTensor/KVCachePrecision/float16``, as llama.cpp) for a quantized folder, whose decoder
    /// is GGUF, and F32 (the parity path with transformers) for safetensors and `.bin` decoders;
    /// set it to force either (``/MGLanguage/DecoderLoadOptions/kvCachePrecision``). The memory check
    /// sizes the cache with the chosen element size.
    public var kvCachePrecision: KVCachePrecision?
    /// Accept memory-mapped weights larger than the available memory (only copies and activations
    /// must fit; mapped pages are then re-read from disk as needed, see ``MemoryEstimate/check(availableBytes:allowPaging:)``).
    public var allowsPaging: Bool = false
    /// Sequences that will be generating at once, each with its own KV cache (a server's batch
    /// size; 1 for one request at a time). The memory check counts the activations of this many
    /// requests, so a server that would run out of memory under full load is refused at load.
    public var concurrentSequences: Int = 1

    public init(
        visionTower: URL? = nil, visionTowerAux: URL? = nil, templateName: String? = nil, useFastTokenizer: Bool? = nil,
        limits: MiniGeminiLimits = .init(), progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) {
        self.visionTower = visionTower
        self.visionTowerAux = visionTowerAux
        self.templateSelection = templateName.map { .named($0) } ?? .automatic
        self.useFastTokenizer = useFastTokenizer
        self.limits = limits
        self.progress = progress
    }
}

/// One finished step of loading a checkpoint.
public struct LoadProgress: Sendable, Equatable {
    /// The steps, in the order they run.
    public enum Step: String, Sendable, CaseIterable {
        case configuration, tokenizer, languageModel = "language model", lowResolutionTower = "CLIP tower"
        case highResolutionTower = "ConvNeXt tower", miningAndProjector = "mining and projector"
    }

    public var step: Step
    /// Steps finished so far, including this one.
    public var completed: Int
    /// Steps in all (fewer without the high-resolution branch).
    public var total: Int
    /// Seconds since loading started.
    public var elapsedSeconds: Double
    /// What was loaded, e.g. the folder of a tower.
    public var detail: String

    /// The fraction done, 0…1.
    public var fraction: Double { total > 0 ? Double(completed) / Double(total) : 1 }
}

/// Caps that keep one request from exhausting the machine. Exceeding one is a
/// ``MiniGeminiError/limitExceeded(what:value:limit:)`` error before any work is done.
public struct MiniGeminiLimits: Sendable, Equatable {
    /// Images per request.
    public var maximumImages: Int
    /// Pixels of one decoded image (checked from the file header, before decoding).
    public var maximumImagePixels: Int
    /// New tokens per request.
    public var maximumNewTokens: Int
    /// Prompt positions (text plus visual tokens); nil = the model's `max_position_embeddings`.
    public var maximumPromptPositions: Int?

    public init(maximumImages: Int = 16, maximumImagePixels: Int = ImageDecoder.defaultMaximumPixels, maximumNewTokens: Int = 8192, maximumPromptPositions: Int? = nil) {
        self.maximumImages = maximumImages
        self.maximumImagePixels = maximumImagePixels
        self.maximumNewTokens = maximumNewTokens
        self.maximumPromptPositions = maximumPromptPositions
    }
}
