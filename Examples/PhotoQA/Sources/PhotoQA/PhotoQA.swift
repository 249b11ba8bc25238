import ExampleSupport
import Foundation
import MGLanguage
import MGPipeline
import MGVision

/// Asks a Mini-Gemini model several questions about one image, encoding the image only once.
///
/// The vision side (preprocessing, both towers, patch info mining, projector) runs once in
/// `encodeImages`; every question then reuses those visual tokens through
/// `MiniGeminiRequest.visualTokens`, so it costs only the language model's prefill and decode.
/// Answers stream as they are generated.
///
/// With no arguments it asks the bundled model about the bundled scene and exits with status 1
/// if an answer is wrong (CI runs it this way); `--model`, `--image` and questions of your own
/// ask anything else (unchecked). Exit status 2 means an error, printed on standard error.
@main
struct PhotoQA {
    static func main() async {
        await runExample {
            let arguments = try ExampleArguments(CommandLine.arguments.dropFirst())
            try await ask(arguments)
        }
    }

    static func ask(_ arguments: ExampleArguments) async throws {
        let folder = try arguments.model ?? BundledScene.modelFolder()
        let model = try MiniGemini(directory: folder)
        let imagePath = try arguments.image ?? BundledScene.imagePath()
        let image = try model.decodeImage(contentsOf: URL(fileURLWithPath: imagePath))
        write("model \(folder.lastPathComponent) (\(model.configuration.decoder.family), template \(model.template.name)), "
            + "image \((imagePath as NSString).lastPathComponent) \(image.width)×\(image.height)\n")

        // The vision side, once: one [tokens, hidden] tensor per image.
        let start = DispatchTime.now().uptimeNanoseconds
        let visualTokens = try model.encodeImages([image])
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        let shape = visualTokens[0].shape
        write(String(format: "encoded once: %d visual tokens of width %d in %.0f ms\n\n", shape[0], shape[1], milliseconds))

        var check = AnswerCheck()
        let parameters = GenerationParameters(maximumTokens: arguments.maximumTokens)  // greedy
        for question in arguments.questionsToAsk {
            let request = MiniGeminiRequest(question: question, images: [image], parameters: parameters, visualTokens: visualTokens)
            write("Q: \(question)\nA: ")
            var ids: [Int] = []
            for try await event in model.respond(to: request) {
                switch event {
                case .chunk(let text, let tokenIDs):
                    write(text)
                    ids += tokenIDs
                case .finished(let info):
                    let generation = info.generation
                    write(String(
                        format: "\n   (vision %.0f ms: tokens reused; prefill of %d positions %.0f ms; %d new token%@)\n",
                        info.visionSeconds * 1000, generation.promptTokenCount, generation.prefillSeconds * 1000,
                        generation.generatedTokenCount, generation.generatedTokenCount == 1 ? "" : "s"))
                }
            }
            if arguments.checksBundledAnswers { check.record(question: question, answer: model.finalText(of: ids)) }
        }
        if arguments.checksBundledAnswers { check.finish() }
    }
}
