import ArgumentParser
import Foundation
import MGLanguage
import MGPipeline
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

    @Option(help: "The checkpoint folder (config.json, weights, tokenizer).")
    var model: String?

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

    @Option(help: "Conversation template name, instead of the one the official CLI picks from the folder name.")
    var template: String?

    @Option(help: "The CLIP tower folder, instead of resolving mm_vision_tower.")
    var visionTower: String?

    @Option(help: "The OpenCLIP ConvNeXt folder, instead of resolving mm_vision_tower_aux.")
    var visionTowerAux: String?

    @Option(help: "Write the first request's intermediate tensors and run.json into this folder.")
    var dump: String?

    @Flag(help: "Print the answer, ids and timings as one JSON object.")
    var json = false

    @Flag(help: "Interactive chat: read questions from standard input.")
    var chat = false

    @Flag(help: "Do not print loading progress.")
    var quiet = false

    @Argument(help: "The question (omit with --chat).")
    var prompt: String?

    func validate() throws {
        guard chat || prompt != nil else { throw ValidationError("give a question, or --chat") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive") }
        guard topK >= 0 else { throw ValidationError("--top-k must not be negative") }
    }

    func run() async throws {
        do {
            try await runReportingErrors()
        } catch {
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    private func runReportingErrors() async throws(MiniGeminiError) {
        let folder: URL
        if let model {
            folder = URL(fileURLWithPath: model)
        } else {
            folder = try BundledModel.locate()
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let quiet = quiet || json
        let options = MiniGeminiLoadOptions(
            visionTower: visionTower.map { URL(fileURLWithPath: $0) }, visionTowerAux: visionTowerAux.map { URL(fileURLWithPath: $0) },
            templateName: template, progress: quiet ? nil : Self.printProgress)
        let mgm = try MiniGemini(directory: folder, options: options)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var decoded: [RGBImage] = []
        for path in images { decoded.append(try mgm.decodeImage(contentsOfFile: path)) }
        let parameters = GenerationParameters(
            maximumTokens: maxTokens, temperature: temperature, topK: temperature > 0 ? topK : 0, topP: topP, seed: seed)

        if !chat, let prompt {
            let request = MiniGeminiRequest(question: prompt, images: decoded, parameters: parameters)
            _ = try await ask(mgm, request, loadSeconds: loadSeconds, dumping: dump)
            return
        }
        var history: [(user: String, assistant: String)] = []
        var dumpFolder = dump
        if let prompt {
            let request = MiniGeminiRequest(question: prompt, images: decoded, parameters: parameters)
            history.append((prompt, try await ask(mgm, request, loadSeconds: loadSeconds, dumping: dumpFolder)))
            dumpFolder = nil
        }
        while true {
            if !json { FileHandle.standardError.write(Data("\(mgm.template.roles.user): ".utf8)) }
            guard let line = readLine(), !line.isEmpty else { break }
            let request = MiniGeminiRequest(question: line, images: decoded, history: history, parameters: parameters)
            history.append((line, try await ask(mgm, request, loadSeconds: loadSeconds, dumping: dumpFolder)))
            dumpFolder = nil
        }
    }

    @Sendable private static func printProgress(_ progress: LoadProgress) {
        let seconds = (progress.elapsedSeconds * 10).rounded() / 10
        let line = "[\(progress.completed)/\(progress.total)] \(progress.step.rawValue): \(progress.detail) (\(seconds) s)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Answers one request, streaming the text (or printing JSON), and returns the answer text.
    private func ask(_ mgm: MiniGemini, _ request: MiniGeminiRequest, loadSeconds: Double, dumping: String?) async throws(MiniGeminiError) -> String {
        if let dumping {
            let (dump, info) = try mgm.runRecording(request)
            var withDetails = dump
            withDetails.details = [
                "model": mgm.directory.path, "template": mgm.template.name, "images": images.joined(separator: "\n"),
            ]
            try withDetails.write(to: URL(fileURLWithPath: dumping))
            report(text: dump.generatedText, ids: dump.generatedIDs, info: info, loadSeconds: loadSeconds, streamed: false)
            return dump.generatedText
        }
        var text = ""
        var ids: [Int] = []
        do {
            for try await event in mgm.respond(to: request) {
                switch event {
                case .chunk(let delta, let tokenIDs):
                    if !json {
                        FileHandle.standardOutput.write(Data((text.isEmpty ? String(delta.drop { $0 == " " }) : delta).utf8))
                    }
                    text += delta
                    ids += tokenIDs
                case .finished(let info):
                    report(text: text, ids: ids, info: info, loadSeconds: loadSeconds, streamed: true)
                }
            }
        } catch let error as MiniGeminiError {
            throw error
        } catch let error as LanguageModelError {
            throw .language(error)
        } catch {
            throw .invalidRequest("\(error)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func report(text: String, ids: [Int], info: MiniGeminiInfo, loadSeconds: Double, streamed: Bool) {
        let answer = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard json else {
            print(streamed ? "" : answer)
            return
        }
        let g = info.generation
        let object: [String: Any] = [
            "answer": answer, "generated_ids": ids, "input_ids": info.inputIDs, "prompt": info.prompt,
            "stop_reason": "\(g.stopReason)",
            "timings": [
                "load_seconds": loadSeconds, "vision_seconds": info.visionSeconds, "prefill_seconds": g.prefillSeconds,
                "prompt_positions": g.promptTokenCount, "generated_tokens": g.generatedTokenCount,
                "decode_tokens_per_second": g.tokensPerSecond,
            ],
        ]
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), let line = String(data: data, encoding: .utf8) {
            print(line)
        }
    }
}

extension MiniGeminiError {
    /// Process exit codes: 2 for problems with the inputs given on the command line (files,
    /// images, request), 3 for a checkpoint that cannot be loaded, 1 otherwise.
    var exitCode: Int32 {
        switch self {
        case .vision(.unreadableFile), .vision(.unsupportedFormat), .vision(.truncatedImage), .vision(.corruptImage),
             .vision(.imageTooLarge), .invalidRequest, .promptTooLong, .limitExceeded:
            2
        case .invalidConfiguration, .towerNotFound, .missingFile, .incompatibleComponents, .checkpoint, .tokenizer, .mining:
            3
        default:
            1
        }
    }
}

/// The model shipped in the repository, used when no `--model` is given.
enum BundledModel {
    static let relativePath = "Models/MGM-Scenes"

    /// Looks in the current folder and every parent, then beside the executable and its parents
    /// (a `swift build` product lives inside the package's `.build` folder).
    static func locate() throws(MiniGeminiError) -> URL {
        var searched: [String] = []
        let starts = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
        ]
        for start in starts {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent(relativePath)
                searched.append(candidate.path)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw .missingFile(path: "\(relativePath)/config.json (no --model given; looked in \(searched.prefix(4).joined(separator: ", ")), …)")
    }
}
