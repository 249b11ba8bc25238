import ArgumentParser
import MGPipeline

/// `mgm prompt`: renders a question the way the official MGM CLI templates it.
struct PromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt",
        abstract: "Render a question with one of MGM's conversation templates.")

    @Option(help: "Template name (e.g. vicuna_v1, gemma, llama_3, mistral_instruct, chatml_direct).")
    var template: String?

    @Option(help: "Pick the template from a model name, as the official CLI does (e.g. MGM-2B).")
    var modelName: String?

    @Option(help: "Number of images in the first turn.")
    var images = 1

    @Flag(help: "Append the reasoning-generation marker ' <GEN>' to the question.")
    var generate = false

    @Flag(help: "List the registered template names.")
    var list = false

    @Argument(help: "The question.")
    var question: String = ""

    func run() throws {
        if list {
            ConversationTemplate.registered.keys.sorted().forEach { print($0) }
            return
        }
        let chosen: ConversationTemplate
        if let template {
            guard let named = ConversationTemplate.named(template) else {
                throw ValidationError("unknown template '\(template)'; see --list")
            }
            chosen = named
        } else {
            chosen = ConversationTemplate.officialChoice(forModelName: modelName ?? "")
        }
        guard images >= 0 else { throw ValidationError("--images must not be negative") }
        var conversation = Conversation(template: chosen)
        let text = generate ? question + " <GEN>" : question
        conversation.append(.user, Conversation.userText(question: text, imageCount: images))
        conversation.appendPendingAssistant()
        print(Conversation.labelingImages(in: conversation.prompt()))
    }
}
