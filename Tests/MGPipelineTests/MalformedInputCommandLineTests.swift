import Foundation
import Testing

/// Every file of the malformed-input corpus given to the `mgm` binary: one `mgm: error:` line on
/// stderr and a failure exit status (3 for checkpoints, tokenizers and configurations, 2 for images), never a
/// signal (``CommandLineTests/run(_:)`` records one as a failure).
@Suite("mgm on malformed inputs")
struct MalformedInputCommandLineTests {
    /// `status` nil accepts any failure status.
    private func expectOneLineError(_ arguments: [String], status: Int32?, file: String) throws {
        let result = try CommandLineTests.run(arguments)
        #expect(result.status != 0 && (status == nil || result.status == status), "\(file): exit \(result.status), stderr \(result.error)")
        let lines = result.error.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1 && lines[0].hasPrefix("mgm: error:"), "\(file): stderr \(result.error)")
    }

    @Test("mgm inspect: checkpoint files", arguments: MalformedInputs.checkpointCases.map(\.file))
    func inspect(file: String) throws {
        try expectOneLineError(["inspect", try MalformedInputs.path(file)], status: 3, file: file)
    }

    @Test("mgm run --image: image files")
    func images() throws {
        let checkpoint = try EndToEndFixtures.checkpoint("MGM-7B-tiny").path
        for file in MalformedInputs.imageCases.map(\.file) + [MalformedInputs.thinImage] {
            let arguments = ["run", "--model", checkpoint, "--quiet", "--max-tokens", "1", "--image", try MalformedInputs.path(file), "hi"]
            try expectOneLineError(arguments, status: 2, file: file)
        }
    }

    @Test("mgm run: checkpoints with a malformed tokenizer or config.json")
    func checkpointFiles() throws {
        var cases: [(checkpoint: String, target: String, file: String, status: Int32?)] = [
            ("MGM-7B-tiny", "tokenizer.model", "sentencepiece_truncated.model", 3),
            ("MGM-7B-tiny", "config.json", "config_truncated.json", 3),
            // The language model's own configuration errors (MiniGeminiError.language) exit with
            // mgm's generic status 1 today; any failure status is accepted for them.
            ("MGM-7B-tiny", "config.json", "config_sizes_contradict_weights.json", nil),
            ("MGM-7B-tiny", "config.json", "config_unknown_model_type.json", nil),
            ("MGM-7B-tiny", "config.json", "config_negative_heads.json", nil),
        ]
        cases += MalformedInputs.tokenizerCases.map(\.file).filter { $0.hasSuffix(".json") }.map { ("MGM-2B-tiny", "tokenizer.json", $0, 3) }
        #expect(Set(cases.map(\.file)).isSuperset(of: MalformedInputs.configurationCases.map(\.file)))
        for (checkpoint, target, file, status) in cases {
            let variant = try MalformedCheckpoint(of: checkpoint, replacing: target, with: file)
            defer { variant.remove() }
            let arguments = [
                "run", "--model", variant.folder.path, "--vision-tower", variant.visionTower.path,
                "--vision-tower-aux", variant.visionTowerAux.path, "--quiet", "--max-tokens", "1", "hi",
            ]
            try expectOneLineError(arguments, status: status, file: file)
        }
    }
}
