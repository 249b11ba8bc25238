import ArgumentParser
import Foundation
import MGHub
import MGPipeline

/// `mgm download`: fetch a release (and the vision towers its configuration names) into the
/// Hugging Face cache without running it.
struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a Hub repository into the Hugging Face cache (and the vision towers it names).",
        discussion: """
            The cache is huggingface_hub's: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. \
            HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE are honoured. Interrupted downloads resume on the next run. \
            Prints the snapshot folder (and the tower folders) on standard output.
            """)

    @Argument(help: "The repository: ORG/NAME or ORG/NAME@REVISION (branch, tag or commit).")
    var repository: String

    @Option(name: .customLong("include"), help: "Only files matching this shell pattern (repeatable), e.g. '*.json'.")
    var patterns: [String] = []

    @Flag(help: "Do not fetch the vision towers named by config.json.")
    var noTowers = false

    @Flag(help: "Do not print the progress bar.")
    var quiet = false

    func run() async throws {
        do {
            let reference = try HubRepoReference(parsing: repository)
            let fetcher = HubFetcher(client: HubClient(), showProgress: !quiet)
            let snapshot = try await fetcher.fetch(reference, files: patterns.isEmpty ? .all : .patterns(patterns))
            print(snapshot.folder.path)
            guard !noTowers else { return }
            var model = ResolvedModel(folder: snapshot.folder, visionTower: nil, visionTowerAux: nil, repository: reference)
            try await model.resolveTowers(with: fetcher)
            for tower in [model.visionTower, model.visionTowerAux].compactMap({ $0 }) { print(tower.path) }
        } catch let error as HubError {
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        } catch let error as MiniGeminiError {
            // A tower the Hub could not provide (ModelResolution.swift).
            FileHandle.standardError.write(Data("mgm: error: \(error)\n".utf8))
            throw ExitCode(3)
        }
    }
}

extension HubError {
    /// `mgm`'s exit codes: 2 for a malformed repository name, 3 for anything that keeps the
    /// checkpoint from being available (as for a checkpoint that cannot be loaded).
    var exitCode: Int32 {
        if case .invalidReference = self { return 2 }
        return 3
    }
}
