import Foundation

/// The model and image shipped in the MiniGemini repository: `Models/MGM-Scenes`, a tiny
/// Mini-Gemini trained on procedural scenes (the `mgm` tool's default), and
/// `Examples/Images/scene.png`, a scene it answers questions about.
///
/// They are found in the package checkout itself, so a downstream package that depends on
/// MiniGemini by path or through SwiftPM's checkout can use them too:
///
/// ```swift
/// let model = try MiniGemini(directory: try BundledModel.locate())
/// let image = try model.decodeImage(contentsOf: try BundledModel.locateImage())
/// ```
public enum BundledModel {
    /// The model folder inside the repository.
    public static let relativePath = "Models/MGM-Scenes"
    /// The example image inside the repository.
    public static let imageRelativePath = "Examples/Images/scene.png"

    /// The bundled model folder.
    /// - Throws: ``MiniGeminiError/missingFile(path:)`` naming where it looked.
    public static func locate() throws(MiniGeminiError) -> URL {
        try find(relativePath + "/config.json").deletingLastPathComponent()
    }

    /// The bundled example image.
    /// - Throws: ``MiniGeminiError/missingFile(path:)`` naming where it looked.
    public static func locateImage() throws(MiniGeminiError) -> URL {
        try find(imageRelativePath)
    }

    /// `relativePath` under the current folder or one of its parents, the executable's folder or
    /// one of its parents (a `swift build` product lives inside a package's `.build`), or the
    /// package checkout this source file belongs to.
    private static func find(_ relativePath: String) throws(MiniGeminiError) -> URL {
        let starts = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent(),
        ]
        var searched: [String] = []
        for start in starts {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent(relativePath)
                if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
                searched.append(folder.path)
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw .missingFile(path: "\(relativePath) (looked above \(starts.map(\.path).joined(separator: ", ")))")
    }
}
