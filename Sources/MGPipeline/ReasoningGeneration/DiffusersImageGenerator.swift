import Foundation

/// An ``ImageGenerator`` on Hugging Face diffusers, run in a Python subprocess.
///
/// Each call starts `diffusers_runner.py` (shipped in MGPipeline's resources), sends it the
/// request as one JSON line, relays its progress lines, reads back the PNG it wrote and removes
/// it. The defaults reproduce Mini-Gemini's CLI: `StableDiffusionXLPipeline` from
/// `stabilityai/stable-diffusion-xl-base-1.0` (see ``ImageGenerationRequest`` for the call
/// values). Each call starts a new Python process and loads the model again (for SDXL on a CPU,
/// less than one denoising step); pass several requests to the array form of `generate` to load
/// it once for all of them.
///
/// The subprocess inherits the environment, so `HF_HOME`, `HF_HUB_OFFLINE` and `CUDA_VISIBLE_DEVICES`
/// apply; with `HF_HUB_OFFLINE=1` a hub id resolves from the local cache only. Missing pieces
/// are thrown as ``ImageGenerationError/pythonNotFound(searched:)``,
/// ``ImageGenerationError/missingPythonPackage(name:detail:)`` and
/// ``ImageGenerationError/weightsNotFound(model:detail:)``; any other failure carries the end
/// of the runner's stderr. Cancelling the calling task kills the subprocess. (Writing the request
/// to a runner that has already exited must not end this process, so SIGPIPE is ignored
/// process-wide from the first call on, as servers usually do.)
///
/// ```swift
/// var configuration = DiffusersImageGenerator.Configuration()
/// configuration.model = "/models/stable-diffusion-xl-base-1.0"    // a diffusers folder
/// let generator = DiffusersImageGenerator(configuration: configuration)
/// let image = try await generator.generate(ImageGenerationRequest(prompt: prompt, seed: 1))
/// ```
public struct DiffusersImageGenerator: ImageGenerator {
    /// Where the model and the Python side come from.
    public struct Configuration: Sendable, Hashable {
        /// A local diffusers folder (with `model_index.json`) or a Hugging Face hub id.
        public var model: String = DiffusersImageGenerator.officialModel
        /// The diffusers pipeline class to load.
        public var pipelineClass: String = "StableDiffusionXLPipeline"
        /// `"auto"` (CUDA, then MPS, then CPU), or a torch device such as `"cpu"` or `"cuda:1"`.
        public var device: String = "auto"
        /// `"auto"` (float16 on a GPU, as the official code; float32 on CPU), `"float32"`,
        /// `"float16"` or `"bfloat16"`.
        public var dtype: String = "auto"
        /// A weights variant such as `"fp16"` (the official code loads SDXL's fp16 files); nil for
        /// the default files.
        public var variant: String?
        /// Torch CPU threads; nil leaves torch's default.
        public var threads: Int?
        /// The Python interpreter: a path or a command name looked up in `PATH`; nil tries
        /// `$MGM_PYTHON`, then `python3`, then `python`.
        public var python: String?
        /// The runner script; nil tries `$MGM_DIFFUSERS_RUNNER`, then MGPipeline's resources.
        public var runnerPath: String?
        /// Extra environment variables for the subprocess (e.g. `["HF_HUB_OFFLINE": "1"]`).
        public var environment: [String: String] = [:]

        public init() {}
    }

    /// The text-to-image model of Mini-Gemini's reasoning generation.
    public static let officialModel = "stabilityai/stable-diffusion-xl-base-1.0"

    public var configuration: Configuration

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Versions reported by ``checkEnvironment()``.
    public struct EnvironmentReport: Sendable, Hashable {
        public var pythonPath: String
        public var pythonVersion: String
        public var torchVersion: String
        public var diffusersVersion: String
    }

    /// Checks that Python, torch and diffusers are usable, without loading a model.
    /// - Throws: ``ImageGenerationError/pythonNotFound(searched:)``,
    ///   ``ImageGenerationError/runnerNotFound(searched:)``,
    ///   ``ImageGenerationError/missingPythonPackage(name:detail:)`` or a runner failure.
    public func checkEnvironment() async throws(ImageGenerationError) -> EnvironmentReport {
        let python = try resolvePython()
        let session = RunnerSession(model: configuration.model)
        let outcome = try await launch(python: python, arguments: ["--check"], input: Data(), session: session, progress: { _ in })
        try session.throwIfFailed(outcome)
        guard let check = session.check else {
            throw .runnerFailed(status: outcome.status, message: "the runner reported no versions", stderrTail: outcome.stderrTail)
        }
        return EnvironmentReport(pythonPath: python, pythonVersion: check.python, torchVersion: check.torch, diffusersVersion: check.diffusers)
    }

    public func generate(
        _ request: ImageGenerationRequest, progress: @escaping @Sendable (ImageGenerationProgress) -> Void
    ) async throws(ImageGenerationError) -> GeneratedImage {
        let images = try await generate([request], progress: progress)
        guard let image = images.first else { throw .invalidOutput("the runner returned no image") }
        return image
    }

    /// Renders several images in one subprocess, loading the model once; results are in request order.
    /// - Throws: as the single-request form; nothing is returned if any request fails.
    public func generate(
        _ requests: [ImageGenerationRequest], progress: @escaping @Sendable (ImageGenerationProgress) -> Void
    ) async throws(ImageGenerationError) -> [GeneratedImage] {
        for request in requests { try request.validate() }
        guard !requests.isEmpty else { return [] }
        let python = try resolvePython()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-diffusers-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw .outputNotWritable(path: directory.path, reason: error.localizedDescription)
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputs = requests.indices.map { directory.appendingPathComponent("image-\($0).png").path }
        var input = Data()
        for (request, output) in zip(requests, outputs) {
            input.append(try encodeLine(request, output: output))
        }
        let session = RunnerSession(model: configuration.model)
        let outcome = try await launch(python: python, arguments: [], input: input, session: session, progress: progress)
        try session.throwIfFailed(outcome)
        let done = session.finished
        guard done.count == requests.count else {
            throw .runnerFailed(
                status: outcome.status, message: "the runner finished \(done.count) of \(requests.count) images",
                stderrTail: outcome.stderrTail)
        }
        var images: [GeneratedImage] = []
        for (index, report) in done.enumerated() {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: outputs[index])) } catch {
                throw .invalidOutput("cannot read \(outputs[index]): \(error.localizedDescription)")
            }
            images.append(GeneratedImage(
                pngData: data, width: report.width, height: report.height, seed: report.seed,
                loadSeconds: index == 0 ? session.loadSeconds : 0, generationSeconds: report.seconds))
        }
        return images
    }

    // MARK: - Subprocess

    private func launch(
        python: String, arguments: [String], input: Data, session: RunnerSession,
        progress: @escaping @Sendable (ImageGenerationProgress) -> Void
    ) async throws(ImageGenerationError) -> ChildProcess.Outcome {
        let runner = try resolveRunner()
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        environment.merge(configuration.environment) { _, new in new }
        let child = ChildProcess(executable: python, arguments: [runner] + arguments, environment: environment)
        let outcome = try await child.run(input: input) { line in
            if let event = session.handle(line: line) { progress(event) }
        }
        if outcome.wasKilled || Task.isCancelled { throw .cancelled }
        return outcome
    }

    private func encodeLine(_ request: ImageGenerationRequest, output: String) throws(ImageGenerationError) -> Data {
        let line = RunnerRequest(
            model: configuration.model, pipeline: configuration.pipelineClass, device: configuration.device,
            dtype: configuration.dtype, variant: configuration.variant, threads: configuration.threads,
            prompt: request.prompt, negativePrompt: request.negativePrompt, width: request.width, height: request.height,
            steps: request.steps, guidance: request.guidance, seed: request.seed, output: output)
        do {
            var data = try JSONEncoder().encode(line)
            data.append(0x0A)
            return data
        } catch {
            throw .invalidRequest("cannot encode the request: \(error)")
        }
    }

    /// The interpreter to run, as an absolute path.
    func resolvePython() throws(ImageGenerationError) -> String {
        let environment = ProcessInfo.processInfo.environment
        let candidates = configuration.python.map { [$0] }
            ?? ([environment["MGM_PYTHON"]].compactMap { $0 } + ["python3", "python"])
        let path = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        for candidate in candidates where !candidate.isEmpty {
            if candidate.contains("/") {
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                continue
            }
            for directory in path {
                let full = (directory as NSString).appendingPathComponent(candidate)
                if FileManager.default.isExecutableFile(atPath: full) { return full }
            }
        }
        throw .pythonNotFound(searched: candidates)
    }

    /// The runner script's path.
    ///
    /// The resource bundle is looked up by hand rather than through `Bundle.module`, whose
    /// generated accessor ends the process when the bundle is missing (e.g. a copied `mgm`
    /// binary); the source tree is the last resort for development builds.
    func resolveRunner() throws(ImageGenerationError) -> String {
        let name = "diffusers_runner.py"
        if let path = configuration.runnerPath {
            guard FileManager.default.isReadableFile(atPath: path) else { throw .runnerNotFound(searched: [path]) }
            return path
        }
        var candidates: [String] = []
        if let path = ProcessInfo.processInfo.environment["MGM_DIFFUSERS_RUNNER"] { candidates.append(path) }
        let bundleName = "MiniGemini_MGPipeline.resources"
        var roots = [Bundle.main.bundleURL]
        if let executable = Bundle.main.executableURL?.deletingLastPathComponent() { roots.append(executable) }
        for root in roots {
            candidates.append(root.appendingPathComponent(bundleName).appendingPathComponent("Resources").appendingPathComponent(name).path)
        }
        let sourceTree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(sourceTree.appendingPathComponent("Resources").appendingPathComponent(name).path)
        if let found = candidates.first(where: { FileManager.default.isReadableFile(atPath: $0) }) { return found }
        throw .runnerNotFound(searched: candidates)
    }
}

/// One line of the runner's input.
private struct RunnerRequest: Encodable {
    var model: String
    var pipeline: String
    var device: String
    var dtype: String
    var variant: String?
    var threads: Int?
    var prompt: String
    var negativePrompt: String?
    var width: Int
    var height: Int
    var steps: Int
    var guidance: Double
    var seed: UInt64?
    var output: String

    enum CodingKeys: String, CodingKey {
        case model, pipeline, device, dtype, variant, threads, prompt, width, height, steps, guidance, seed, output
        case negativePrompt = "negative_prompt"
    }
}
