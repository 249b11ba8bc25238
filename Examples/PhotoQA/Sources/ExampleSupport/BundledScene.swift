import Foundation

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

    /// The bundled model folder, `Models/MGM-Scenes` in the repository.
    ///
    /// The only place the examples look for it: an application would take the folder from its
    /// user instead.
    /// - Throws: ``ExampleError/notFound(_:)`` naming where it looked.
    public static func modelFolder() throws -> URL {
        try repositoryFile("Models/MGM-Scenes/config.json").deletingLastPathComponent()
    }

    /// The bundled image, `Examples/Images/scene.png` in the repository.
    public static func imagePath() throws -> String {
        try repositoryFile("Examples/Images/scene.png").path
    }

    /// `relativePath` inside the repository, looked for above the current folder, above the
    /// executable (which `swift build` puts in this package's `.build`), then above this source file.
    static func repositoryFile(_ relativePath: String) throws -> URL {
        let starts = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent(),
        ]
        for start in starts {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent(relativePath)
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw ExampleError.notFound("\(relativePath) above \(starts.map(\.path).joined(separator: ", "))")
    }
}
