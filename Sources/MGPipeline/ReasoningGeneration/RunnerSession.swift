import Foundation

/// The state of one `diffusers_runner.py` run, built from its stdout events (one JSON object per
/// line; the protocol is described at the top of the script). Lines arrive on a reader thread,
/// so the state sits behind a lock.
final class RunnerSession: @unchecked Sendable {
    struct Finished: Sendable {
        var width: Int
        var height: Int
        var seed: UInt64
        var seconds: Double
    }

    struct Check: Sendable {
        var python: String
        var torch: String
        var diffusers: String
    }

    struct Failure: Sendable {
        var kind: String
        var message: String
        var name: String?
    }

    /// The event fields the Swift side reads; the runner may send more.
    private struct Event: Decodable {
        var event: String
        var model: String?
        var seconds: Double?
        var step: Int?
        var total: Int?
        var seed: UInt64?
        var width: Int?
        var height: Int?
        var kind: String?
        var message: String?
        var name: String?
        var python: String?
        var torch: String?
        var diffusers: String?
    }

    let model: String
    private let lock = NSLock()
    private var _finished: [Finished] = []
    private var _failure: Failure?
    private var _check: Check?
    private var _loadSeconds: Double = 0
    private var _malformed: [String] = []

    init(model: String) {
        self.model = model
    }

    var finished: [Finished] { lock.withLock { _finished } }
    var check: Check? { lock.withLock { _check } }
    var loadSeconds: Double { lock.withLock { _loadSeconds } }

    /// Records one stdout line; returns the progress event it describes, if any.
    func handle(line: String) -> ImageGenerationProgress? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return nil }
        guard let event = try? JSONDecoder().decode(Event.self, from: Data(trimmed.utf8)) else {
            lock.withLock { _malformed.append(trimmed) }
            return nil
        }
        return lock.withLock { () -> ImageGenerationProgress? in
            switch event.event {
            case "loading":
                return .loading(model: event.model ?? model)
            case "loaded":
                _loadSeconds = event.seconds ?? 0
                return .loaded(seconds: _loadSeconds)
            case "step":
                guard let step = event.step, let total = event.total else { return nil }
                return .step(step: step, total: total)
            case "decoding":
                return .decoding
            case "done":
                _finished.append(Finished(
                    width: event.width ?? 0, height: event.height ?? 0, seed: event.seed ?? 0, seconds: event.seconds ?? 0))
                return nil
            case "check":
                _check = Check(python: event.python ?? "?", torch: event.torch ?? "?", diffusers: event.diffusers ?? "?")
                return nil
            case "error":
                _failure = Failure(kind: event.kind ?? "failed", message: event.message ?? "unknown error", name: event.name)
                return nil
            default:
                return nil
            }
        }
    }

    /// Turns a reported failure or a non-zero exit into the matching error.
    func throwIfFailed(_ outcome: ChildProcess.Outcome) throws(ImageGenerationError) {
        let (failure, malformed) = lock.withLock { (_failure, _malformed) }
        if let failure {
            switch failure.kind {
            case "missing_package": throw .missingPythonPackage(name: failure.name ?? "?", detail: failure.message)
            case "weights_missing": throw .weightsNotFound(model: model, detail: failure.message)
            case "invalid_request": throw .invalidRequest(failure.message)
            default: throw .runnerFailed(status: outcome.status, message: failure.message, stderrTail: outcome.stderrTail)
            }
        }
        guard outcome.status == 0 else {
            var message = "the runner exited without reporting an error"
            if let line = malformed.last { message += "; it printed: \(line)" }
            throw .runnerFailed(status: outcome.status, message: message, stderrTail: outcome.stderrTail)
        }
    }
}
