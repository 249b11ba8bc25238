import Foundation
import MGPipeline

/// The model and image shipped in the MiniGemini repository, and what the model answers about it.
///
/// `Models/MGM-Scenes` is a tiny Mini-Gemini (a 4-layer Llama, CLIP ViT and ConvNeXt towers, patch
/// info mining) trained on procedural scenes; `Examples/Images/scene.png` shows a red circle, a
/// red square, a blue triangle and a small digit 8.
public enum BundledScene {
    /// The questions `make demo` asks about the bundled image, with the model's greedy answers.
    public static let questions: [(question: String, answer: String)] = [
        ("What color is the triangle?", "blue"),
        ("What shape is blue?", "triangle"),
        ("How many shapes are there?", "3"),
        ("Is there a circle?", "yes"),
        ("What digit is shown?", "8"),
    ]

    /// The bundled model folder, `Models/MGM-Scenes` in the repository (``BundledModel``).
    public static func modelFolder() throws -> URL {
        try BundledModel.locate()
    }

    /// The bundled image, `Examples/Images/scene.png` in the repository.
    public static func imagePath() throws -> String {
        try BundledModel.locateImage().path
    }
}
