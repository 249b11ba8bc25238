import Foundation

/// Finds the vision tower folders a Mini-Gemini `config.json` names.
///
/// The official loader opens `mm_vision_tower` and `mm_vision_tower_aux` exactly as written — a
/// path relative to the working directory of the training machine, such as
/// `model_zoo/OpenAI/clip-vit-large-patch14-336`. This keeps that behaviour and adds the places a
/// downloaded release is usually unpacked next to, in this order:
/// 1. an explicit override;
/// 2. the path as written (absolute, or relative to the current directory);
/// 3. the path relative to the checkpoint folder, then to each of its parent folders (a release
///    unpacked beside a `model_zoo/` folder);
/// 4. the last path component (the folder's own name) in the checkpoint folder and its parents.
///
/// When nothing matches, the error lists every place that was tried.
public struct TowerLocator: Sendable {
    /// The checkpoint folder.
    public let checkpoint: URL

    public init(checkpoint: URL) {
        self.checkpoint = checkpoint.standardizedFileURL
    }

    /// The folder for `configured`.
    /// - Parameters:
    ///   - configured: the path from `config.json`.
    ///   - role: names the tower in the error ("low-resolution (CLIP)").
    ///   - override: a folder given by the caller; when set it must exist.
    /// - Throws: ``MiniGeminiError/towerNotFound(role:configured:searched:)``.
    public func locate(_ configured: String, role: String, override: URL? = nil) throws(MiniGeminiError) -> URL {
        let candidates = self.candidates(for: configured, override: override)
        for candidate in candidates where isDirectory(candidate) { return candidate }
        throw .towerNotFound(role: role, configured: configured, searched: candidates.map(\.path))
    }

    /// Every folder ``locate(_:role:override:)`` tries, in order, without duplicates.
    public func candidates(for configured: String, override: URL? = nil) -> [URL] {
        if let override { return [override.standardizedFileURL] }
        var result: [URL] = []
        func add(_ url: URL) {
            let url = url.standardizedFileURL
            if !result.contains(url) { result.append(url) }
        }
        let current = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        add(configured.hasPrefix("/") ? URL(fileURLWithPath: configured) : current.appendingPathComponent(configured))
        let relative = configured.hasPrefix("/") ? nil : configured
        let name = (configured as NSString).lastPathComponent
        var folder = checkpoint
        var folders: [URL] = []
        while true {
            folders.append(folder)
            let parent = folder.deletingLastPathComponent().standardizedFileURL
            if parent.path == folder.path || folders.count > 64 { break }
            folder = parent
        }
        if let relative { folders.forEach { add($0.appendingPathComponent(relative)) } }
        if !name.isEmpty { folders.forEach { add($0.appendingPathComponent(name)) } }
        return result
    }

    private func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
