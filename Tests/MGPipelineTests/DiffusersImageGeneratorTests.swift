import Foundation
import MGTestSupport
import MGVision
import Testing
@testable import MGPipeline

/// Shell scripts standing in for Python, so the subprocess plumbing is tested without torch.
private enum FakePython {
    /// One folder per test process, removed when the process exits.
    private static let directory: URL? = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-fake-python-\(UUID().uuidString)")
        guard (try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)) != nil else { return nil }
        atexit { if let directory = FakePython.directory { try? FileManager.default.removeItem(at: directory) } }
        return directory
    }()

    static func make(_ body: String) throws -> String {
        guard let directory else { throw CocoaError(.fileWriteUnknown) }
        let path = directory.appendingPathComponent("python3-\(UUID().uuidString)").path
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    static func generator(_ body: String) throws -> DiffusersImageGenerator {
        var configuration = DiffusersImageGenerator.Configuration()
        configuration.python = try make(body)
        return DiffusersImageGenerator(configuration: configuration)
    }
}

/// Whether python3 has diffusers, torch and transformers; prints the reason when it does not.
/// `find_spec` looks the packages up without importing them (50 ms instead of 7 s of CPU), so a
/// broken install is reported by the test itself rather than skipped.
private enum DiffusersAvailability {
    static let isAvailable: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = [
            "python3", "-c",
            "import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ('diffusers', 'torch', 'transformers')) else 1)",
        ]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        do {
            try probe.run()
            probe.waitUntilExit()
        } catch {
            print("skipping the diffusers integration test: cannot run python3 (\(error))")
            return false
        }
        if probe.terminationStatus != 0 {
            print("skipping the diffusers integration test: python3 cannot import diffusers, torch and transformers (pip install -r Tools/requirements.txt)")
        }
        return probe.terminationStatus == 0
    }()

    static let hasPython: Bool = {
        (try? DiffusersImageGenerator().resolvePython()) != nil
    }()
}

@Suite("Reasoning generation: diffusers backend")
struct DiffusersImageGeneratorTests {
    let request = ImageGenerationRequest(prompt: "a red fox in the snow", width: 64, height: 64, steps: 2, seed: 7)

    @Test("official defaults")
    func defaults() {
        let request = ImageGenerationRequest(prompt: "x")
        #expect(request.width == 1024 && request.height == 1024 && request.steps == 50 && request.guidance == 5.0 && request.seed == nil)
        #expect(request.negativePrompt == ImageGenerationRequest.officialNegativePrompt)
        #expect(ImageGenerationRequest.officialNegativePrompt.hasPrefix("out of frame, lowres, text, error,"))
        #expect(ImageGenerationRequest.officialNegativePrompt.hasSuffix("long neck, username, watermark, signature"))
        #expect(ImageGenerationRequest.officialNegativePrompt.components(separatedBy: ", ").count == 38)
        #expect(DiffusersImageGenerator.Configuration().model == "stabilityai/stable-diffusion-xl-base-1.0")
    }

    @Test("invalid requests are refused before anything runs")
    func invalid() async throws {
        let generator = try FakePython.generator("echo ran >&2; exit 9")
        for bad in [
            ImageGenerationRequest(prompt: "  "), ImageGenerationRequest(prompt: "x", width: 60),
            ImageGenerationRequest(prompt: "x", height: 0), ImageGenerationRequest(prompt: "x", steps: 0),
            ImageGenerationRequest(prompt: "x", guidance: .nan),
        ] {
            do {
                _ = try await generator.generate(bad)
                Issue.record("\(bad) was accepted")
            } catch {
                guard case .invalidRequest = error else { Issue.record("\(bad): got \(error) instead of invalidRequest"); continue }
            }
        }
    }

    @Test("a missing interpreter or runner is a typed error")
    func missingPieces() async throws {
        var configuration = DiffusersImageGenerator.Configuration()
        configuration.python = "/nonexistent/bin/python3"
        do {
            _ = try await DiffusersImageGenerator(configuration: configuration).generate(request)
            Issue.record("expected pythonNotFound")
        } catch { #expect(error == .pythonNotFound(searched: ["/nonexistent/bin/python3"])) }

        configuration.python = try FakePython.make("exit 0")
        configuration.runnerPath = "/nonexistent/diffusers_runner.py"
        do {
            _ = try await DiffusersImageGenerator(configuration: configuration).generate(request)
            Issue.record("expected runnerNotFound")
        } catch { #expect(error == .runnerNotFound(searched: ["/nonexistent/diffusers_runner.py"])) }

        // The shipped runner is found without configuration (resource bundle or source tree).
        let runner = try DiffusersImageGenerator().resolveRunner()
        #expect(runner.hasSuffix("Resources/diffusers_runner.py"))
        #expect(FileManager.default.isReadableFile(atPath: runner))
    }

    @Test("runner-reported errors map to typed errors; crashes carry the stderr tail")
    func reportedErrors() async throws {
        let missing = try FakePython.generator("""
            echo '{"event": "error", "kind": "missing_package", "name": "diffusers", "message": "cannot import diffusers: No module named diffusers"}'
            exit 3
            """)
        do { _ = try await missing.generate(request); Issue.record("expected an error") } catch {
            #expect(error == .missingPythonPackage(name: "diffusers", detail: "cannot import diffusers: No module named diffusers"))
        }
        let weights = try FakePython.generator(#"echo '{"event": "error", "kind": "weights_missing", "message": "no diffusers pipeline at /m"}'; exit 4"#)
        do { _ = try await weights.generate(request); Issue.record("expected an error") } catch {
            #expect(error == .weightsNotFound(model: DiffusersImageGenerator.officialModel, detail: "no diffusers pipeline at /m"))
        }
        let crash = try FakePython.generator("for i in $(seq 1 40); do echo \"trace line $i\" >&2; done; echo 'not json'; exit 7")
        do { _ = try await crash.generate(request); Issue.record("expected an error") } catch {
            guard case .runnerFailed(let status, let message, let tail) = error else { Issue.record("got \(error)"); return }
            #expect(status == 7)
            #expect(message.contains("not json"))
            let lines = tail.split(separator: "\n")
            #expect(lines.count == ChildProcess.stderrTailLines && lines.last == "trace line 40" && lines.first == "trace line 16")
        }
        let silent = try FakePython.generator("exit 0")
        do { _ = try await silent.generate(request); Issue.record("expected an error") } catch {
            guard case .runnerFailed(_, let message, _) = error else { Issue.record("got \(error)"); return }
            #expect(message.contains("0 of 1"))
        }
        let check = try FakePython.generator(#"echo '{"event": "check", "protocol": 1, "python": "3.11.7", "torch": "2.15.0", "diffusers": "0.42.1"}'"#)
        let report = try await check.checkEnvironment()
        #expect(report.pythonVersion == "3.11.7" && report.torchVersion == "2.15.0" && report.diffusersVersion == "0.42.1")
    }

    /// The real runner under `python3 -S` (no site-packages, so no torch): fast, and on any
    /// machine with Python.
    @Test("the runner reports a missing torch and a missing model folder", .enabled(if: DiffusersAvailability.hasPython))
    func realRunnerWithoutPackages() async throws {
        let bare = try FakePython.generator("exec python3 -S \"$@\"")
        do { _ = try await bare.checkEnvironment(); Issue.record("expected an error") } catch {
            guard case .missingPythonPackage(let name, _) = error else { Issue.record("got \(error)"); return }
            #expect(name == "torch")
        }
        var configuration = bare.configuration
        configuration.model = "/nonexistent/sdxl"
        do { _ = try await DiffusersImageGenerator(configuration: configuration).generate(request); Issue.record("expected an error") } catch {
            // The folder is checked before the slow torch import.
            #expect(error == .weightsNotFound(model: "/nonexistent/sdxl", detail: "no diffusers pipeline at /nonexistent/sdxl (model_index.json not found)"))
        }
    }

    @Test("cancelling the task kills the subprocess")
    func cancellation() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-cancel-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        // The script would run 60 s; the bound below leaves room for a starved test pool (17 s seen
        // with every suite running in parallel on a loaded 2-core machine; 1 s alone).
        let generator = try FakePython.generator("echo $$ > \(pidFile); echo '{\"event\": \"loading\"}'; sleep 60")
        let started = Date()
        let task = Task { try await generator.generate(request) }
        while !FileManager.default.fileExists(atPath: pidFile), Date().timeIntervalSince(started) < 30 {
            try await Task.sleep(for: .milliseconds(50))
        }
        task.cancel()
        do { _ = try await task.value; Issue.record("expected cancellation") } catch let error as ImageGenerationError {
            #expect(error == .cancelled)
        }
        #expect(Date().timeIntervalSince(started) < 45)
        let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "the runner process \(pid) still exists")
    }

    /// A tiny random SDXL-architecture pipeline built by Tools/make_tiny_sdxl.py, run through the
    /// protocol: 2 steps at 64×64, the PNG's size, and seed reproducibility across processes.
    @Test("tiny SDXL through diffusers", .enabled(if: DiffusersAvailability.isAvailable), .timeLimit(.minutes(3)))
    func tinySDXL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-tiny-sdxl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = SharedResources.packageRoot.appendingPathComponent("Tools/make_tiny_sdxl.py").path
        let python = try DiffusersImageGenerator().resolvePython()
        let maker = ChildProcess(
            executable: python, arguments: [script, directory.path],
            environment: ProcessInfo.processInfo.environment.merging(["HF_HUB_OFFLINE": "1"]) { $1 })
        let made = try await maker.run(input: Data()) { _ in }
        try #require(made.status == 0, "make_tiny_sdxl.py failed:\n\(made.stderrTail)")

        var configuration = DiffusersImageGenerator.Configuration()
        configuration.model = directory.path
        configuration.device = "cpu"
        // One thread: torch's default (all cores) spin-waits badly when the tests share the CPU
        // (0.2 s against 4–9 s per 64×64 image measured on a loaded 2-core machine).
        configuration.threads = 1
        configuration.environment = ["HF_HUB_OFFLINE": "1"]
        let generator = DiffusersImageGenerator(configuration: configuration)
        let events = EventLog()
        let first = try await (generator as any ImageGenerator).generate(request) { events.append($0) }
        #expect(events.all.first == .loading(model: directory.path))
        #expect(events.all.filter { if case .step = $0 { true } else { false } } == [.step(step: 1, total: 2), .step(step: 2, total: 2)])
        #expect(events.all.last == .decoding)
        #expect(first.width == 64 && first.height == 64 && first.seed == 7)
        #expect(first.pngData.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let pixels = try first.rgbImage()
        #expect(pixels.width == 64 && pixels.height == 64)

        // A new process with the same seed paints the same pixels; another seed does not.
        var other = request
        other.seed = 8
        let again = try await generator.generate([request, other], progress: { _ in })
        #expect(try again[0].rgbImage() == pixels)
        let different = try again[1].rgbImage()
        let changed = zip(different.pixels, pixels.pixels).filter { $0 != $1 }.count
        #expect(changed > pixels.pixels.count / 2, "only \(changed) of \(pixels.pixels.count) bytes differ between seeds 7 and 8")

        // A folder without a pipeline is reported as missing weights.
        configuration.model = directory.appendingPathComponent("absent").path
        do { _ = try await DiffusersImageGenerator(configuration: configuration).generate(request); Issue.record("expected an error") } catch {
            guard case .weightsNotFound(let model, _) = error else { Issue.record("got \(error)"); return }
            #expect(model == configuration.model)
        }
    }
}

private final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ImageGenerationProgress] = []
    func append(_ event: ImageGenerationProgress) { lock.withLock { events.append(event) } }
    var all: [ImageGenerationProgress] { lock.withLock { events } }
}
