import MGLanguage
import MGPipeline

/// The scenes evaluation: every question of fresh scenes asked through the whole pipeline
/// (preprocessing, towers, mining, decoder) with greedy decoding, scored per question type.
///
/// ```swift
/// let model = try MiniGemini(directory: URL(fileURLWithPath: "Models/MGM-Scenes"))
/// let accuracy = try await SceneEvaluation.run(model: model, scenes: 400)
/// print(accuracy.table)
/// ```
public enum SceneEvaluation {
    /// Seeds of evaluation scenes start here; training (`Tools/train_scenes.py`) draws its scenes
    /// from seeds at and above 2⁴⁰, so the evaluation never sees a training scene.
    public static let firstEvaluationSeed: UInt64 = 1_000_000_000

    /// Asks every question of `scenes` scenes with seeds `firstSeed`, `firstSeed + 1`, …; each
    /// scene's image is encoded once and shared by its questions.
    /// - Parameter progress: called with the number of scenes done.
    public static func run(
        model: MiniGemini, scenes: Int, firstSeed: UInt64 = firstEvaluationSeed, progress: (Int) -> Void = { _ in }
    ) async throws -> SceneAccuracy {
        try await run(models: [model], scenes: scenes, firstSeed: firstSeed, progress: progress)[0]
    }

    /// ``run(model:scenes:firstSeed:progress:)`` for several models that share the vision side
    /// (one checkpoint and its `mgm quantize` folders): each scene's image is encoded once, by the
    /// first model, and every model answers every question from those visual tokens.
    /// - Returns: one accuracy per model, in order.
    public static func run(
        models: [MiniGemini], scenes: Int, firstSeed: UInt64 = firstEvaluationSeed, progress: (Int) -> Void = { _ in }
    ) async throws -> [SceneAccuracy] {
        guard let encoder = models.first else { return [] }
        var accuracies = [SceneAccuracy](repeating: SceneAccuracy(), count: models.count)
        for index in 0..<scenes {
            let scene = try SceneGenerator.scene(seed: firstSeed &+ UInt64(index))
            let visualTokens = try encoder.encodeImages([scene.image])
            for question in scene.questions {
                let request = MiniGeminiRequest(
                    question: question.question, images: [scene.image], parameters: GenerationParameters(maximumTokens: 8),
                    visualTokens: visualTokens)
                for (m, model) in models.enumerated() {
                    accuracies[m].record(question, reply: try await model.answer(request).text)
                }
            }
            progress(index + 1)
        }
        return accuracies
    }
}
