#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

// Built with `-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING` (see Fuzz/run.sh), a harness
// hands control to libFuzzer. Built normally (as `swift build` does), the same executable replays
// the inputs named on its command line, so the targets always compile and a crash file can be
// reproduced without the fuzzing toolchain.
#if FUZZING
// libFuzzer's entry point for programs that keep their own `main` (SwiftPM executables must).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

/// Runs one fuzz target: under libFuzzer when built with `-DFUZZING`, else over the files and
/// folders given as arguments (options starting with `-` are ignored).
public enum FuzzDriver {
    // libFuzzer's callback is a C function pointer and cannot capture; the harness body is set
    // once before the driver starts and only read afterwards (libFuzzer calls it on one thread).
    nonisolated(unsafe) private static var body: (UnsafeRawBufferPointer) -> Void = { _ in }

    /// Runs `body` on every input and exits.
    public static func run(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        Self.body = body
        singleThreaded()
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            FuzzDriver.body(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
        #else
        var count = 0
        for argument in CommandLine.arguments.dropFirst() where !argument.hasPrefix("-") {
            for path in files(at: argument) {
                guard let data = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                    exit(1)
                }
                data.withUnsafeBytes { body($0) }
                count += 1
            }
        }
        print("ran \(count) inputs")
        exit(0)
        #endif
    }

    /// Keeps the tensor kernels on the calling thread (`MG_NUM_THREADS=1`, read once by
    /// `Parallel.threadCount` on first use, so this must run before any input).
    ///
    /// `DispatchQueue.concurrentPerform` allocates 64-byte continuations that outlive the call
    /// (libdispatch's worker threads keep them). libFuzzer counts mallocs and frees around each
    /// input, reads the difference as a possible leak, re-runs the input and then scans the whole
    /// heap with LeakSanitizer, which finds nothing because the memory is reachable: with
    /// small tensors split over both cores (a concat of eight or more parts always is), those
    /// scans cut Conversation to 25 executions/s (158 on one thread) and JPEG to ~640 (5,900).
    /// One thread also keeps a fuzzer off the second core, which it shares with other work.
    private static func singleThreaded() {
        setenv("MG_NUM_THREADS", "1", 1)
    }

    /// `path` itself, or the regular files directly inside it when it is a folder, sorted.
    private static func files(at path: String) -> [String] {
        guard isDirectory(path) else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
            .map { (path as NSString).appendingPathComponent($0) }.filter { !isDirectory($0) }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
