import Foundation
import MGLanguage

/// One worked example of the rewrite shown to the model: a request or caption and the diffusion
/// prompt written for it.
public struct RecaptionExample: Sendable, Hashable, Codable {
    /// An instruction ("draw …") or a caption of an image.
    public var input: String
    /// The diffusion prompt for it, without the `<h>` tags.
    public var prompt: String

    public init(input: String, prompt: String) {
        self.input = input
        self.prompt = prompt
    }
}

/// The result of one re-captioning call.
public struct Recaption: Sendable {
    /// The exact text given to the tokenizer.
    public var promptText: String
    /// What the model wrote after the primed `<h>` (cut before the `</h>` that stopped it).
    public var generatedText: String
    /// The extraction applied to `"<h>" + generatedText + "</h>"` (the closing tag only when
    /// generation stopped on it), with ``ImagePromptRule/commandLine``.
    public var extraction: ImagePromptExtraction
    /// Token counts, timings and the stop reason.
    public var info: GenerationInfo

    /// The diffusion prompt with surrounding whitespace removed, or nil when the model did not
    /// close its `<h>` (see ``ImagePromptExtraction/noPromptReason``).
    public var prompt: String? { extraction.prompt.map(ImagePromptExtractor.pythonStripped) }
}

/// Rewrites an instruction or a caption into a text-to-image prompt with any loaded decoder, by
/// in-context learning: a few examples of the rewrite, then the new input, and the model continues
/// the pattern. No weights change — the mechanism the Mini-Gemini paper uses to bridge a language
/// model and a diffusion model without joint training.
///
/// The prompt is plain text (it suits base and chat models alike):
///
/// ```text
/// <instruction>
///
/// Input: <example input>
/// Prompt: <h><example prompt></h>
///
/// Input: <your input>
/// Prompt: <h>
/// ```
///
/// Generation is primed with the opening tag and stops at `</h>`, so the model writes one prompt
/// and nothing else; the answer is then read with the same ``ImagePromptExtractor`` as Mini-Gemini's
/// own answers.
///
/// ```swift
/// let recaptioner = InContextRecaptioner()                        // built-in examples, greedy
/// let result = try recaptioner.recaption("a dog on a beach", model: model, tokenizer: tokenizer)
/// if let prompt = result.prompt { … }                            // feed an ImageGenerator
/// ```
public struct InContextRecaptioner: Sendable {
    /// The sentence that opens the prompt.
    public var instruction: String
    /// The worked examples, in order.
    public var examples: [RecaptionExample]
    /// When set, the few-shot text becomes the user turn of this conversation template and the
    /// assistant turn is primed with `<h>` (for chat-tuned models); nil for plain completion.
    public var template: ConversationTemplate?
    /// Decoding settings; the stop strings `</h>` and `"\nInput:"` are always added.
    public var parameters: GenerationParameters

    /// The built-in opening sentence.
    public static let defaultInstruction = """
        Rewrite each input as a prompt for a text-to-image diffusion model. A good prompt is one \
        line that names the subject, the setting, the style, the lighting and the composition, \
        with concrete visual details and no instructions. Wrap the prompt in <h> and </h>.
        """

    /// The built-in examples: an instruction, a caption and an abstract request.
    public static let defaultExamples: [RecaptionExample] = [
        RecaptionExample(
            input: "Draw a cat sleeping on a windowsill.",
            prompt: "a ginger cat curled up asleep on a sunlit wooden windowsill, potted plants, soft morning light, cozy interior, shallow depth of field, detailed photograph"),
        RecaptionExample(
            input: "An old fishing boat tied to a pier at sunset.",
            prompt: "weathered wooden fishing boat moored at an old pier, golden sunset over calm water, orange and purple sky, reflections, wide angle, cinematic, highly detailed"),
        RecaptionExample(
            input: "Show me what loneliness looks like.",
            prompt: "a single figure on an empty bench in a vast foggy park at dusk, bare trees, muted blue tones, minimalist composition, atmospheric, melancholic mood, digital painting"),
    ]

    /// Greedy decoding with room for one long prompt.
    public static let defaultParameters = GenerationParameters(maximumTokens: 160, temperature: 0)

    static let stopStrings = [ImagePromptExtractor.closingTag, "\nInput:"]

    public init(
        examples: [RecaptionExample] = InContextRecaptioner.defaultExamples,
        instruction: String = InContextRecaptioner.defaultInstruction,
        template: ConversationTemplate? = nil,
        parameters: GenerationParameters = InContextRecaptioner.defaultParameters
    ) {
        self.examples = examples
        self.instruction = instruction
        self.template = template
        self.parameters = parameters
    }

    /// The text the model is asked to continue for `input`.
    /// - Throws: ``MiniGeminiError/invalidRequest(_:)`` when `input` is blank.
    public func promptText(for input: String) throws(MiniGeminiError) -> String {
        let request = Self.oneLine(input)
        guard !request.isEmpty else { throw .invalidRequest("nothing to re-caption: the input is empty") }
        var blocks: [String] = []
        let heading = instruction.trimmingCharacters(in: .whitespacesAndNewlines)
        if !heading.isEmpty { blocks.append(heading) }
        for example in examples {
            blocks.append("Input: \(Self.oneLine(example.input))\nPrompt: <h>\(Self.oneLine(example.prompt))</h>")
        }
        let opening = ImagePromptExtractor.openingTag
        guard let template else {
            blocks.append("Input: \(request)\nPrompt: \(opening)")
            return blocks.joined(separator: "\n\n")
        }
        blocks.append("Input: \(request)")
        var conversation = Conversation(template: template)
        conversation.append(.user, blocks.joined(separator: "\n\n"))
        conversation.appendPendingAssistant()
        let rendered = conversation.prompt()
        // Roles that end in ":" (Vicuna's "ASSISTANT:") are followed by a space in every answer.
        return rendered + (rendered.hasSuffix(":") ? " " : "") + opening
    }

    /// Runs the model on ``promptText(for:)`` and extracts the prompt it wrote.
    ///
    /// Synchronous: it returns when the model closes the tag, reaches a stop condition or the
    /// token limit. Not finding a prompt is reported in the result, not thrown.
    /// - Throws: ``MiniGeminiError/invalidRequest(_:)`` for a blank input,
    ///   ``MiniGeminiError/promptTooLong(tokens:limit:)`` when the few-shot prompt does not fit the
    ///   model's context, ``MiniGeminiError/language(_:)`` when generation fails.
    public func recaption(_ input: String, model: any CausalLanguageModel, tokenizer: any Tokenizer) throws(MiniGeminiError) -> Recaption {
        let text = try promptText(for: input)
        let ids = tokenizer.encode(text, addSpecialTokens: true)
        let limit = model.configuration.maximumPositions
        guard ids.count < limit else { throw .promptTooLong(tokens: ids.count, limit: limit) }
        var settings = parameters
        for stop in Self.stopStrings where !settings.stopStrings.contains(stop) { settings.stopStrings.append(stop) }
        let output: (text: String, tokenIDs: [Int], info: GenerationInfo)
        do {
            output = try generateText(model: model, tokenizer: tokenizer, prompt: .tokens(ids), parameters: settings)
        } catch {
            throw .language(error)
        }
        let closed = output.info.stopReason == .stopString(ImagePromptExtractor.closingTag)
        let answer = ImagePromptExtractor.openingTag + output.text + (closed ? ImagePromptExtractor.closingTag : "")
        return Recaption(
            promptText: text, generatedText: output.text,
            extraction: ImagePromptExtractor.extract(from: answer, rule: .commandLine), info: output.info)
    }

    /// Newlines would break the one-example-per-block layout; they become spaces.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
    }
}
