import MGLanguage
import MGTensor
import MGVision

/// One question to a ``MiniGemini`` model.
public struct MiniGeminiRequest: Sendable {
    /// The user's message for this turn.
    public var question: String
    /// Images, attached to the first user message of the conversation (as the official CLI does).
    public var images: [RGBImage]
    /// Earlier turns of a chat, oldest first.
    public var history: [(user: String, assistant: String)]
    /// Sampling and stopping; ``/MGLanguage/GenerationParameters/miniGeminiCLI`` is the official CLI's choice.
    public var parameters: GenerationParameters
    /// The visual token rows of ``images`` when already computed (``MiniGemini/encodeImages(_:)``),
    /// to ask several questions about the same images without encoding them again.
    public var visualTokens: [Tensor]?

    public init(
        question: String, images: [RGBImage] = [], history: [(user: String, assistant: String)] = [],
        parameters: GenerationParameters = .miniGeminiCLI, visualTokens: [Tensor]? = nil
    ) {
        self.visualTokens = visualTokens
        self.question = question
        self.images = images
        self.history = history
        self.parameters = parameters
    }
}

/// A request made ready for the language model.
public struct PreparedPrompt: Sendable {
    /// The rendered prompt text.
    public let text: String
    /// Its token ids, with ``imagePlaceholderID`` where each image goes.
    public let inputIDs: [Int]
    /// The input rows, `[positions, hidden]`: text embeddings with the visual tokens spliced in.
    public let embeddings: Tensor
    /// Per image, the intermediate tensors (only when prepared with `tracing`).
    public let traces: [ImageEncodingTrace]
    /// Seconds spent encoding the images.
    public let visionSeconds: Double
}

/// An event of a streamed answer.
public enum MiniGeminiEvent: Sendable {
    /// New text and the token ids that produced it.
    case chunk(text: String, tokenIDs: [Int])
    /// The last event: the prompt and the timings.
    case finished(MiniGeminiInfo)
}

/// What a finished request did and how long it took.
public struct MiniGeminiInfo: Sendable {
    /// The rendered prompt text.
    public var prompt: String
    /// The prompt ids, with ``imagePlaceholderID`` for each image.
    public var inputIDs: [Int]
    /// Seconds spent encoding images.
    public var visionSeconds: Double
    /// Prefill and decode counts and timings, and why generation stopped.
    public var generation: GenerationInfo

    public init(prompt: String, inputIDs: [Int], visionSeconds: Double, generation: GenerationInfo) {
        self.prompt = prompt
        self.inputIDs = inputIDs
        self.visionSeconds = visionSeconds
        self.generation = generation
    }
}

/// A whole answer.
public struct MiniGeminiAnswer: Sendable {
    /// The answer text, trimmed.
    public var text: String
    /// The generated token ids (the stop token excluded).
    public var tokenIDs: [Int]
    public var info: MiniGeminiInfo
}
