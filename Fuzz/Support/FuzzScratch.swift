#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// Folders to remove at exit; written only while a harness sets up, before fuzzing starts.
nonisolated(unsafe) private var scratchDirectories: [String] = []

/// A private folder for parsers that only read paths: each input is written to a file there
/// (in `/dev/shm` when it exists, so the round trip stays in memory).
public struct FuzzScratch {
    /// The folder, removed when the process exits normally.
    public let directory: String

    public init() {
        let root = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        directory = (root as NSString).appendingPathComponent("mgm-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if scratchDirectories.isEmpty {
            // libFuzzer ends with exit(), which runs this; a crash leaves the folder for inspection.
            atexit { for folder in scratchDirectories { try? FileManager.default.removeItem(atPath: folder) } }
        }
        scratchDirectories.append(directory)
    }

    /// Replaces the file `name` in the folder with `bytes` and returns its path.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer, to name: String) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { fatalError("fuzz scratch: cannot create \(path)") }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count, let base = bytes.baseAddress {
            let result = posixWrite(descriptor, base + written, bytes.count - written)
            guard result > 0 else { fatalError("fuzz scratch: cannot write \(path)") }
            written += result
        }
        return path
    }

    /// Writes `bytes` (an array) to the file `name` and returns its path.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) -> String {
        bytes.withUnsafeBytes { write($0, to: name) }
    }
}

// At file scope, `write` is the C function rather than the method above.
private func posixWrite(_ descriptor: CInt, _ base: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, base, count)
}
