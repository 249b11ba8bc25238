import Foundation
import MGTensor
import Testing

/// The `mgm` binary, run as a user would: `--dump` output checked against the goldens (so any
/// MGM-layout checkpoint can be verified from outside the test suite), and broken inputs turned
/// into one-line errors with a non-zero exit code.
@Suite("mgm command line")
struct CommandLineTests {
    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    /// `mgm` next to the test bundle (the test target depends on it, so SwiftPM builds it).
    static var binary: URL {
        get throws {
            let url = Bundle.module.bundleURL.deletingLastPathComponent().appendingPathComponent("mgm")
            try #require(FileManager.default.isExecutableFile(atPath: url.path), "mgm is not built at \(url.path)")
            return url
        }
    }

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = try binary
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit, "mgm was killed by a signal")
        return Result(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), error: String(decoding: err, as: UTF8.self))
    }

    /// One image case per checkpoint keeps the suite quick; the library test covers all of them.
    static let dumpCases: [String] = {
        var seen = Set<String>()
        return EndToEndFixtures.caseNames.filter { name in
            guard let golden = try? EndToEndCase(name), !golden.imageNames.isEmpty, golden.imageNames.allSatisfy({ $0 == "quadrants.png" }) else { return false }
            return seen.insert(golden.checkpoint).inserted
        }
    }()

    @Test("mgm run --dump writes tensors and ids that match the goldens", arguments: dumpCases)
    func dumpMatchesGoldens(caseName: String) throws {
        let golden = try EndToEndCase(caseName)
        let paths = try #require(try golden.imagePaths())
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-dump-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dump) }
        let arguments = ["run", "--model", try EndToEndFixtures.checkpoint(golden.checkpoint).path]
            + paths.flatMap { ["--image", $0] }
            + ["--temperature", "0", "--max-tokens", "24", "--json", "--dump", dump.path, golden.question]
        let result = try Self.run(arguments)
        #expect(result.status == 0, "mgm failed: \(result.error)")

        var tensors: [String: Tensor] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dump.path) where file.hasSuffix(".safetensors") {
            let name = String(file.dropLast(".safetensors".count))
            tensors[name] = try SafetensorsFile(contentsOf: dump.appendingPathComponent(file)).tensor(named: name)
        }
        try golden.expectMatches(tensors, origin: "mgm --dump")

        let run = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dump.appendingPathComponent("run.json"))) as? [String: Any])
        #expect(run["input_ids"] as? [Int] == (try golden.metaIDs("input_ids")))
        #expect(run["generated_ids"] as? [Int] == (try golden.metaIDs("generated_ids")))
        #expect(run["prompt"] as? String == golden.golden.metadata["prompt"])

        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(json["answer"] as? String == golden.golden.metadata["generated_text"])
        #expect(json["generated_ids"] as? [Int] == (try golden.metaIDs("generated_ids")))
        let timings = try #require(json["timings"] as? [String: Any])
        #expect(timings["load_seconds"] as? Double != nil && timings["decode_tokens_per_second"] as? Double != nil)
    }

    @Test("--generate appends <GEN> and reports an answer without an <h> prompt as such")
    func generateWithoutPrompt() throws {
        let result = try Self.run([
            "run", "--model", try EndToEndFixtures.checkpoint("MGM-7B-tiny").path, "--generate", "--json", "--temperature", "0",
            "--max-tokens", "6", "Draw a cat",
        ])
        #expect(result.status == 0, "\(result.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect((json["prompt"] as? String)?.hasSuffix("USER: Draw a cat <GEN> ASSISTANT:") == true)
        #expect(json["image_prompt"] is NSNull)
        #expect(json["no_prompt_reason"] as? String == "noTags")
    }

    @Test("broken inputs give a one-line error and a non-zero exit code")
    func errors() throws {
        let checkpoint = try EndToEndFixtures.checkpoint("MGM-7B-tiny").path
        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-garbage-\(UUID().uuidString).jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 0x4A]).write(to: garbage)
        defer { try? FileManager.default.removeItem(at: garbage) }
        let missingTower = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_vision_tower"] = "model_zoo/gone/clip-gone" }
        let badProjector = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_projector_type"] = "qformer" }
        let badSizes = try CheckpointVariant(of: "MGM-7B-tiny") { $0["mm_hidden_size"] = 33 }
        defer { [missingTower, badProjector, badSizes].forEach { $0.remove() } }
        func overrides(_ variant: CheckpointVariant) -> [String] {
            ["--vision-tower", variant.visionTower.path, "--vision-tower-aux", variant.visionTowerAux.path]
        }
        let cases: [(arguments: [String], status: Int32, message: String)] = [
            (["run", "--model", missingTower.folder.path, "hi"], 3, "not found"),
            (["run", "--model", badProjector.folder.path] + overrides(badProjector) + ["hi"], 3, "qformer"),
            (["run", "--model", badSizes.folder.path] + overrides(badSizes) + ["hi"], 3, "33"),
            (["run", "--model", checkpoint, "--image", garbage.path, "hi"], 2, "JPEG"),
            (["run", "--model", checkpoint, String(repeating: "a long question ", count: 400)], 2, "exceeds the context"),
            (["run", "--model", "/nonexistent/MGM-7B", "hi"], 3, "config.json"),
        ]
        for (arguments, status, message) in cases {
            let result = try Self.run(arguments)
            #expect(result.status == status, "\(arguments.prefix(3)): exit \(result.status), stderr \(result.error)")
            let lines = result.error.split(separator: "\n").filter { $0.hasPrefix("mgm: error:") }
            #expect(lines.count == 1 && lines[0].contains(message), "\(arguments.prefix(3)): \(result.error)")
        }
    }
}
