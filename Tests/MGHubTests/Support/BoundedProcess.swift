import Foundation

/// A child process (`python3`, `mgm`) with a bounded run time; killed when it overruns.
enum BoundedProcess {
    struct Result { var status: Int32; var output: String; var error: String }

    /// `mgm`, built beside the test binary (the test target depends on it).
    static var mgm: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mgm")
    }

    static func python(_ arguments: [String], environment: [String: String], seconds: Double) async throws -> Result {
        try await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments, environment: environment, seconds: seconds)
    }

    static func run(_ executable: URL, _ arguments: [String], environment: [String: String], seconds: Double) async throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mgm-py-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Files, not pipes: a full pipe would block the child while this waits for it to exit.
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                return Result(status: -1, output: "", error: "timed out after \(seconds) s")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return Result(
            status: process.terminationStatus, output: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            error: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
