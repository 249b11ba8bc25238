import Foundation

/// Drives a Python benchmark server (`Tools/bench/torch_ops.py`, `Tools/bench/torch_models.py`) as a
/// child process: one JSON request per line, one reply per line. Keeping one interpreter alive lets
/// every Swift case be followed immediately by its PyTorch twin, so both are measured under the same
/// machine conditions.
final class TorchReference {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()
    let banner: String

    /// `environment` adds variables for the Python process (e.g. `ONEDNN_MAX_CPU_ISA` to cap oneDNN).
    init?(
        repositoryRoot: URL, script relativePath: String = "Tools/bench/torch_ops.py", threads: Int,
        environment extra: [String: String] = [:]
    ) {
        let script = repositoryRoot.appendingPathComponent(relativePath)
        guard FileManager.default.fileExists(atPath: script.path) else { return nil }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        var environment = ProcessInfo.processInfo.environment
        environment["MG_NUM_THREADS"] = String(threads)
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        do { try process.run() } catch { return nil }
        var line: String?
        repeat {
            line = Self.readLine(from: output, buffer: &buffer)
        } while line != nil && !(line!.hasPrefix("{"))
        guard let line, line.contains("\"ready\"") else { return nil }
        banner = line
    }

    /// Median milliseconds of `op` in PyTorch, or nil with the error printed.
    func time(op: String, args: [String: Any], repeat count: Int) -> Double? {
        request(op: op, args: args, repeat: count)?["ms"] as? Double
    }

    /// The server's whole reply to `op` (e.g. several timings), or nil with the error printed.
    func request(op: String, args: [String: Any], repeat count: Int) -> [String: Any]? {
        let request: [String: Any] = ["op": op, "args": args, "repeat": count]
        guard let data = try? JSONSerialization.data(withJSONObject: request) else { return nil }
        input.fileHandleForWriting.write(data + Data("\n".utf8))
        guard let line = Self.readLine(from: output, buffer: &buffer),
              let reply = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { return nil }
        if let error = reply["error"] as? String {
            FileHandle.standardError.write(Data("torch \(op): \(error)\n".utf8))
            return nil
        }
        return reply
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private static func readLine(from pipe: Pipe, buffer: inout Data) -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                return line
            }
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}
