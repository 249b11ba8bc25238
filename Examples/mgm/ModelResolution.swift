import Foundation
import MGHub
import MGPipeline

#if canImport(Glibc)
import Glibc
#endif

/// What `--model` and the tower options name, resolved to the folders the loader opens: a local
/// folder as given, or `ORG/NAME[@REVISION]` from the Hugging Face cache (downloaded when missing),
/// and towers the configuration names that no local folder provides, fetched from their Hub
/// repositories (``TowerRepositories``).
struct ResolvedModel {
    /// The checkpoint folder (a snapshot folder for a Hub model).
    var folder: URL
    /// The CLIP folder to pass to the loader, nil to let it resolve `mm_vision_tower` itself.
    var visionTower: URL?
    /// The ConvNeXt folder, likewise.
    var visionTowerAux: URL?
    /// The Hub repository the checkpoint came from.
    var repository: HubRepoReference?

    /// Resolves `model`: an existing folder is used as is; anything else of the form
    /// `ORG/NAME[@REVISION]` comes from the Hub cache. Explicit tower paths always win.
    static func resolve(
        model: String, visionTower: String?, visionTowerAux: String?, showProgress: Bool,
        environment: HubEnvironment = .fromProcess()
    ) async throws -> ResolvedModel {
        let fetcher = HubFetcher(client: HubClient(environment: environment), showProgress: showProgress)
        var resolved = ResolvedModel(
            folder: URL(fileURLWithPath: model), visionTower: visionTower.map { URL(fileURLWithPath: $0) },
            visionTowerAux: visionTowerAux.map { URL(fileURLWithPath: $0) })
        if !Self.isDirectory(resolved.folder), let reference = try? HubRepoReference(parsing: model) {
            resolved.folder = try await fetcher.fetch(reference, files: .all).folder
            resolved.repository = reference
        }
        try await resolved.resolveTowers(with: fetcher)
        return resolved
    }

    /// For each tower without an explicit folder: the local lookup of ``TowerLocator``, else its Hub
    /// repository. Leaves the tower unset (the loader then reports what it searched) when the
    /// configuration cannot be read or names a tower of no known repository.
    mutating func resolveTowers(with fetcher: HubFetcher) async throws {
        guard let configuration = try? MiniGeminiConfiguration(contentsOf: folder.appendingPathComponent("config.json")) else { return }
        let locator = TowerLocator(checkpoint: folder)
        if visionTower == nil {
            visionTower = try await Self.tower(configuration.visionTower, role: "low-resolution (CLIP)", locator: locator, fetcher: fetcher)
            // The loader will report this tower; fetching the other one first would be wasted.
            if visionTower == nil { return }
        }
        if visionTowerAux == nil, let aux = configuration.visionTowerAux {
            visionTowerAux = try await Self.tower(aux, role: "high-resolution (ConvNeXt)", locator: locator, fetcher: fetcher)
        }
    }

    /// A local folder, else the tower's Hub repository; nil when neither is known. When the Hub
    /// cannot provide it (offline and not cached, unreachable), the error lists the local places
    /// searched and the repository.
    private static func tower(_ configured: String, role: String, locator: TowerLocator, fetcher: HubFetcher) async throws -> URL? {
        if let local = try? locator.locate(configured, role: role) { return local }
        guard let repository = TowerRepositories.repository(forConfigured: configured) else { return nil }
        do {
            return try await fetcher.fetch(repository, files: .visionTower).folder
        } catch {
            switch error {
            case .notCached, .transport:
                let searched = locator.candidates(for: configured).map(\.path) + ["Hugging Face Hub \(repository.id): \(error)"]
                throw MiniGeminiError.towerNotFound(role: role, configured: configured, searched: searched)
            default:
                throw error
            }
        }
    }

    static func isDirectory(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

/// Fetches snapshots with a progress bar on standard error.
struct HubFetcher {
    let client: HubClient
    let showProgress: Bool

    func fetch(_ reference: HubRepoReference, files: HubFileFilter) async throws(HubError) -> HubSnapshot {
        let interactive = isatty(STDERR_FILENO) != 0
        let label = reference.description
        guard showProgress else { return try await client.snapshot(reference, files: files) }
        let progress: @Sendable (HubDownloadProgress) -> Void = { state in
            let line = "\(label) \(state.bar())"
            if interactive {
                FileHandle.standardError.write(Data(("\r" + line + (state.finished ? "\n" : "")).utf8))
            } else if state.finished {
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        return try await client.snapshot(reference, files: files, progress: progress)
    }
}
