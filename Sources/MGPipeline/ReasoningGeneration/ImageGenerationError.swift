/// Errors of an ``ImageGenerator``. Each case says what to fix, in one printable line.
public enum ImageGenerationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request is not valid (empty prompt, size not a multiple of 8, …).
    case invalidRequest(String)
    /// No Python interpreter was found; `searched` lists what was tried.
    case pythonNotFound(searched: [String])
    /// Python runs but cannot import a package the backend needs (torch, diffusers, …).
    case missingPythonPackage(name: String, detail: String)
    /// The diffusion weights are not where they were looked for.
    case weightsNotFound(model: String, detail: String)
    /// The runner script that ships with MGPipeline was not found.
    case runnerNotFound(searched: [String])
    /// The backend process failed; `stderrTail` holds the end of what it wrote to stderr.
    case runnerFailed(status: Int32, message: String, stderrTail: String)
    /// The backend finished but its output is missing or unreadable.
    case invalidOutput(String)
    /// The image could not be written.
    case outputNotWritable(path: String, reason: String)
    /// The calling task was cancelled (the backend process was stopped).
    case cancelled

    public var description: String {
        switch self {
        case .invalidRequest(let reason): "invalid image request: \(reason)"
        case .pythonNotFound(let searched):
            "no Python interpreter found (tried \(searched.joined(separator: ", "))); install Python 3 or set MGM_PYTHON"
        case .missingPythonPackage(let name, let detail):
            "Python package \(name) is missing (\(detail)); install it with `pip install -r Tools/requirements.txt` or `pip install torch diffusers transformers`"
        case .weightsNotFound(let model, let detail):
            "diffusion weights for \(model) not found: \(detail)"
        case .runnerNotFound(let searched):
            "diffusers_runner.py not found (tried \(searched.joined(separator: ", "))); set MGM_DIFFUSERS_RUNNER to its path"
        case .runnerFailed(let status, let message, let tail):
            "image backend failed (exit status \(status)): \(message)" + (tail.isEmpty ? "" : "\n--- stderr (last lines) ---\n\(tail)")
        case .invalidOutput(let reason): "image backend output is unusable: \(reason)"
        case .outputNotWritable(let path, let reason): "cannot write \(path): \(reason)"
        case .cancelled: "image generation cancelled"
        }
    }
}
