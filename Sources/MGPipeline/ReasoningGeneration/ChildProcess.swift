import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process with its input given up front, its stdout delivered line by line as it comes,
/// and the end of its stderr kept for error messages. Cancelling the awaiting task kills it.
///
/// `Process` is not `Sendable`; every access to it after launch goes through `lock`.
final class ChildProcess: @unchecked Sendable {
    struct Outcome: Sendable {
        var status: Int32
        /// The last lines of stderr (at most ``stderrTailLines``).
        var stderrTail: String
        var wasKilled: Bool
    }

    static let stderrTailLines = 25

    private let process = Process()
    private let lock = NSLock()
    private var killed = false
    private var stderrLines: [String] = []

    init(executable: String, arguments: [String], environment: [String: String]) {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
    }

    /// Launches the process, writes `input` to its stdin (then closes it) and waits for it to exit
    /// and for both output streams to end. `onLine` gets each stdout line without its newline.
    func run(input: Data, onLine: @escaping @Sendable (String) -> Void) async throws(ImageGenerationError) -> Outcome {
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let group = DispatchGroup()
        group.enter()
        process.terminationHandler = { _ in group.leave() }
        do {
            try lock.withLock { try process.run() }
        } catch {
            throw .runnerFailed(status: -1, message: "cannot start \(process.executableURL?.path ?? "?"): \(error.localizedDescription)", stderrTail: "")
        }
        readLines(from: stdout.fileHandleForReading, group: group, handler: onLine)
        readLines(from: stderr.fileHandleForReading, group: group) { [self] line in
            lock.withLock {
                stderrLines.append(line)
                if stderrLines.count > Self.stderrTailLines { stderrLines.removeFirst(stderrLines.count - Self.stderrTailLines) }
            }
        }
        // A child that exits early closes its end; writing then raises SIGPIPE, which is ignored
        // so the write fails quietly and the exit status tells the story.
        signal(SIGPIPE, SIG_IGN)
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()

        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                group.notify(queue: .global()) { continuation.resume() }
            }
        } onCancel: {
            terminate()
        }
        return lock.withLock {
            Outcome(status: process.terminationStatus, stderrTail: stderrLines.joined(separator: "\n"), wasKilled: killed)
        }
    }

    /// Sends SIGKILL: the runner holds no state worth saving, and a loaded torch process can take
    /// seconds to act on SIGTERM.
    func terminate() {
        lock.withLock {
            killed = true
            guard process.isRunning else { return }
            let pid = process.processIdentifier
            // When the child leads its own process group (as Foundation spawns it on Linux), the
            // whole group goes, so a grandchild (a shell's `sleep`, a worker) cannot keep the
            // pipes open; otherwise only the child.
            if getpgid(pid) == pid { _ = kill(-pid, SIGKILL) } else { _ = kill(pid, SIGKILL) }
        }
    }

    /// Reads `handle` to its end on a background thread, splitting UTF-8 lines.
    private func readLines(from handle: FileHandle, group: DispatchGroup, handler: @escaping @Sendable (String) -> Void) {
        group.enter()
        DispatchQueue.global().async {
            var buffer = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer.append(data)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    handler(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            if !buffer.isEmpty { handler(String(decoding: buffer, as: UTF8.self)) }
            group.leave()
        }
    }
}
