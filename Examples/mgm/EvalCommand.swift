import ArgumentParser
import Foundation
import MGPipeline
import MGScenes

/// `mgm eval`: accuracy of a scenes model on fresh procedural scenes, per question type, through
/// the whole pipeline (preprocessing, towers, mining, decoder, greedy decoding).
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a scenes model (default: the bundled one) on fresh procedural scenes.",
        discussion: """
            Scenes come from the evaluation domain of the bundled model (Documentation/Scenes.md); every \
            question a scene supports is asked with greedy decoding and compared with the answer.
            """)

    @Option(help: "The checkpoint folder; the bundled Models/MGM-Scenes by default.")
    var model: String?

    @Option(help: "Number of scenes.")
    var scenes = 400

    @Option(help: "Seed of the first scene; scene k uses seed + k (the default lies outside the training seeds).")
    var seed: UInt64 = SceneEvaluation.firstEvaluationSeed

    @Option(help: ArgumentHelp(
        "Also evaluate this folder on the same scenes (repeatable): a quantized copy of --model, whose towers it shares.",
        discussion: "Each scene is encoded once, by --model; every folder answers from those visual tokens."))
    var compare: [String] = []

    @Flag(help: "Print the accuracies as JSON.")
    var json = false

    func validate() throws {
        guard scenes > 0, scenes <= 1_000_000 else { throw ValidationError("--scenes must be in 1...1000000") }
    }

    func run() async throws {
        do {
            let folder = try model.map { URL(fileURLWithPath: $0) } ?? BundledModel.locate()
            var models = [try MiniGemini(directory: folder)]
            for other in compare { models.append(try MiniGemini(directory: URL(fileURLWithPath: other))) }
            let accuracies = try await SceneEvaluation.run(models: models, scenes: scenes, firstSeed: seed) { done in
                if !json, done % 50 == 0 { FileHandle.standardError.write(Data("\(done)/\(scenes) scenes\n".utf8)) }
            }
            for (name, accuracy) in zip([folder.path] + compare, accuracies) {
                if json {
                    var object: [String: Any] = ["scenes": scenes, "first_seed": seed]
                    if !compare.isEmpty { object["model"] = name }
                    for type in SceneQuestionType.allCases {
                        if let value = accuracy.accuracy(type) {
                            object[type.rawValue] = ["accuracy": value, "asked": accuracy.asked[type] ?? 0, "correct": accuracy.correct[type] ?? 0]
                        }
                    }
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    if !compare.isEmpty { print(name) }
                    print(accuracy.table)
                }
            }
        } catch let error as MiniGeminiError {
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        } catch let error as SceneError {
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
