/// The Hub repositories of the vision towers Mini-Gemini releases name in `mm_vision_tower` and
/// `mm_vision_tower_aux`.
///
/// The releases store paths of the training machine (`model_zoo/OpenAI/clip-vit-large-patch14-336`,
/// `model_zoo/OpenAI/openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup`); the official
/// README has users download the towers from these repositories into those folders.
public enum TowerRepositories {
    /// Folder name (last path component, as the releases spell it) → Hub repository.
    public static let known: [String: String] = [
        "clip-vit-large-patch14-336": "openai/clip-vit-large-patch14-336",
        "clip-vit-large-patch14": "openai/clip-vit-large-patch14",
        "openclip-convnext-large-d-320-laion2B-s29B-b131K-ft-soup": "laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup",
        "CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup": "laion/CLIP-convnext_large_d_320.laion2B-s29B-b131K-ft-soup",
    ]

    /// The repository for a configured tower path: a known folder name, or the value itself when
    /// it is already `ORG/NAME` (what `from_pretrained` would take as a Hub id); nil otherwise.
    public static func repository(forConfigured configured: String) -> HubRepoReference? {
        let trimmed = configured.hasSuffix("/") ? String(configured.dropLast()) : configured
        let name = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
        if let id = known[name] { return try? HubRepoReference(parsing: id) }
        if !trimmed.hasPrefix("/"), !trimmed.hasPrefix("."), trimmed.split(separator: "/").count == 2 {
            return try? HubRepoReference(parsing: trimmed)
        }
        return nil
    }
}
