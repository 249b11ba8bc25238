import ArgumentParser
import Foundation
import MGHub
import MGLanguage
import MGPipeline
import MGTensor
import MGVision

/// `mgm run`: ask a Mini-Gemini checkpoint about images, once or as a chat.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Answer a question about images with a Mini-Gemini checkpoint.",
        discussion: """
            Without --model, the bundled scenes model (Models/MGM-Scenes) is used. With --chat, questions are \
            read from standard input line by line (an empty line ends the chat); images belong to the first turn.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("image"), help: "An image file (PNG or JPEG); repeat for several images.")
    var images: [String] = []

    @Option(help: "Sampling temperature; 0 is greedy decoding. The official CLI uses 0.2.")
    var temperature: Float = 0.2

    @Option(help: "Nucleus sampling threshold.")
    var topP: Float = 1

    @Option(help: "Top-k sampling (transformers' default 50 when sampling).")
    var topK: Int = 50

    @Option(help: "The most tokens to generate.")
    var maxTokens: Int = 512

    @Option(help: "Seed of the sampler.")
    var seed: UInt64 = 0

    @Option(help: "Write the first request's intermediate tensors and run.json into this folder.")
    var dump: String?

    @Flag(help: "Print the answer, ids and timings as one JSON object.")
    var json = false

    @Flag(help: "Interactive chat: read questions from standard input.")
    var chat = false

    @Flag(help: "Do not print loading progress.")
    var quiet = false

    @Flag(help: "Reasoning generation: append the <GEN> marker and draw the answer's <h>…</h> prompt with SDXL (diffusers).")
    var generate = false

    @Option(help: "Where --generate writes the image.")
    var output = "generate.png"

    @Option(help: "The diffusers model folder or hub id for --generate.")
    var diffusionModel: String?

    @Option(help: "Denoising steps for --generate (the official CLI uses diffusers' default, 50).")
    var imageSteps = 50

    @Option(help: "Side of the generated image in pixels.")
    var imageSize = 1024

    @Option(help: "Seed of the generated image (random when omitted).")
    var imageSeed: UInt64?

    @Option(help: "Torch threads of the diffusers backend.")
    var diffusionThreads: Int?

    @Argument(help: "The question (omit with --chat).")
    var prompt: String?

    func validate() throws {
        guard chat || prompt != nil else { throw ValidationError("give a question, or --chat") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
        guard imageSteps > 0, imageSize > 0 else { throw ValidationError("--image-steps and --image-size must be positive") }
    }

    func run() async throws {
        do {
            try await runAnswering()
        } catch let error as MiniGeminiError {
            throw Self.fail(error, code: error.exitCode)
        } catch let error as HubError {
            throw Self.fail(error, code: error.exitCode)
        } catch let error as ImageGenerationError {
            throw Self.fail(error, code: 4)
        } catch let error as ExitCode {
            throw error
        } catch {
            throw Self.fail(error, code: 1)
        }
    }

    /// Prints the one-line error and returns the exit code to throw.
    private static func fail(_ error: any Error, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
        return ExitCode(code)
    }

    private func runAnswering() async throws {
        let loaded = try await modelOptions.load(progress: quiet || json ? nil : Self.printProgress)
        let mgm = loaded.model
        let loadSeconds = loaded.loadSeconds
        Self.reportTemplate(mgm, quiet: quiet || json)
        var decoded: [RGBImage] = []
        for path in images { decoded.append(try mgm.decodeImage(contentsOf: URL(fileURLWithPath: path))) }
        let parameters = GenerationParameters(
            maximumTokens: maxTokens, temperature: temperature, topK: temperature > 0 ? topK : 0, topP: topP, seed: seed)

        var history: [(user: String, assistant: String)] = []
        var dumpFolder = dump
        var question = prompt
        while true {
            if question == nil {
                guard chat else { break }
                if !json { FileHandle.standardError.write(Data("\(mgm.template.roles.user): ".utf8)) }
                guard let line = readLine(), !line.isEmpty else { break }
                question = line
            }
            guard let asked = question else { break }
            // As the official CLI: the marker goes on the user's text; the raw answer stays in the history.
            let text = generate ? GenerationMarker.appending(to: asked) : asked
            let request = MiniGeminiRequest(question: text, images: decoded, history: history, parameters: parameters)
            let turn = try await ask(mgm, request, dumping: dumpFolder)
            var extras: [String: Any] = ["timings": turn.timings(loadSeconds: loadSeconds)]
            if generate { extras.merge(try await generateImage(from: turn.text)) { $1 } }
            extras["template"] = mgm.template.name
            extras["template_reason"] = mgm.templateChoice.reason
            extras["vision_precision"] = modelOptions.visionPrecision.rawValue
            extras["decoder_precision"] = modelOptions.decoderPrecision.rawValue
            if json { Self.printJSON(turn.json.merging(extras) { $1 }) }
            history.append((text, turn.text))
            dumpFolder = nil
            question = nil
            guard chat else { break }
        }
    }

    /// Prints the template and why it was chosen; warns (always, on standard error) when the
    /// official CLI's folder-name rule would have chosen another one.
    private static func reportTemplate(_ mgm: MiniGemini, quiet: Bool) {
        let choice = mgm.templateChoice
        if !quiet { FileHandle.standardError.write(Data("template: \(choice.template.name) (\(choice.reason))\n".utf8)) }
        if choice.source != .officialCLIRule, let warning = choice.officialCLIDisagreement(modelPath: mgm.directory.standardizedFileURL.path) {
            FileHandle.standardError.write(Data("mgm: warning: \(warning)\n".utf8))
        }
    }

    @Sendable private static func printProgress(_ progress: LoadProgress) {
        let seconds = (progress.elapsedSeconds * 10).rounded() / 10
        let line = "[\(progress.completed)/\(progress.total)] \(progress.step.rawValue): \(progress.detail) (\(seconds) s)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// One answered request.
    struct Turn {
        /// The answer as the official CLI shows it.
        var text: String
        /// Generated ids as transformers returns them (a final stop token included).
        var ids: [Int]
        var info: MiniGeminiInfo

        var json: [String: Any] {
            ["answer": text, "generated_ids": ids, "input_ids": info.inputIDs, "prompt": info.prompt, "stop_reason": "\(info.generation.stopReason)"]
        }

        func timings(loadSeconds: Double) -> [String: Any] {
            let g = info.generation
            return [
                "load_seconds": loadSeconds, "vision_seconds": info.visionSeconds, "prefill_seconds": g.prefillSeconds,
                "time_to_first_token_seconds": info.visionSeconds + g.prefillSeconds, "prompt_positions": g.promptTokenCount,
                "generated_tokens": g.generatedTokenCount, "decode_tokens_per_second": g.tokensPerSecond,
                "kernel_tier": KernelTier.active.description,
            ]
        }
    }

    /// Answers one request, streaming the text to standard output unless printing JSON.
    private func ask(_ mgm: MiniGemini, _ request: MiniGeminiRequest, dumping: String?) async throws -> Turn {
        if let dumping {
            var (dump, info) = try mgm.runRecording(request)
            dump.details = ["model": mgm.directory.path, "template": mgm.template.name, "images": images.joined(separator: "\n")]
            try dump.write(to: URL(fileURLWithPath: dumping))
            if !json { print(dump.generatedText) }
            return Turn(text: dump.generatedText, ids: dump.generatedIDs, info: info)
        }
        var streamed = ""
        var ids: [Int] = []
        var finished: MiniGeminiInfo?
        for try await event in mgm.respond(to: request) {
            switch event {
            case .chunk(let delta, let tokenIDs):
                if !json { FileHandle.standardOutput.write(Data((streamed.isEmpty ? String(delta.drop { $0 == " " }) : delta).utf8)) }
                streamed += delta
                ids += tokenIDs
            case .finished(let info):
                finished = info
            }
        }
        guard let info = finished else { throw MiniGeminiError.cancelled }
        if !json { print() }
        if case .stopToken(let id) = info.generation.stopReason { ids.append(id) }
        return Turn(text: mgm.finalText(of: ids), ids: ids, info: info)
    }

    /// Reasoning generation: the `<h>…</h>` prompt of the answer (the official CLI's rule) drawn by
    /// the diffusers backend. Returns the JSON fields it adds.
    private func generateImage(from answer: String) async throws -> [String: Any] {
        let extraction = ImagePromptExtractor.extract(from: answer, rule: .commandLine)
        guard let imagePrompt = extraction.prompt else {
            let reason = extraction.noPromptReason.map { "\($0)" } ?? "none"
            FileHandle.standardError.write(Data("mgm: the answer contains no <h>…</h> image prompt (\(reason)); no image generated\n".utf8))
            return ["image_prompt": NSNull(), "no_prompt_reason": reason]
        }
        var configuration = DiffusersImageGenerator.Configuration()
        if let diffusionModel { configuration.model = diffusionModel }
        configuration.threads = diffusionThreads
        let generator = DiffusersImageGenerator(configuration: configuration)
        let request = ImageGenerationRequest(prompt: imagePrompt, width: imageSize, height: imageSize, steps: imageSteps, seed: imageSeed)
        let quiet = quiet || json
        let image = try await generator.generate(request) { progress in
            guard !quiet else { return }
            if case .step(let step, let total) = progress {
                FileHandle.standardError.write(Data("image step \(step)/\(total)\n".utf8))
            }
        }
        try image.write(to: output)
        if !json {
            print("Prompt: \(imagePrompt)")
            print("Generate an image, save at \(output)")
        }
        return ["image_prompt": imagePrompt, "image_path": output, "image_seed": image.seed]
    }

    private static func printJSON(_ object: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), let line = String(data: data, encoding: .utf8) {
            print(line)
        }
    }
}

