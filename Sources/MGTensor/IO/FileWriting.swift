#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes all of `bytes` to `descriptor`, retrying short writes and `EINTR` (the safetensors and
/// GGUF writers share it).
/// - Throws: ``CheckpointError/ioFailure(path:reason:)`` naming `path`.
func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws(CheckpointError) {
    guard var next = bytes.baseAddress else { return }
    var remaining = bytes.count
    while remaining > 0 {
        #if canImport(Glibc)
        let written = Glibc.write(descriptor, next, remaining)
        #else
        let written = Darwin.write(descriptor, next, remaining)
        #endif
        if written < 0 {
            if errno == EINTR { continue }
            throw .ioFailure(path: path, reason: String(cString: strerror(errno)))
        }
        next += written
        remaining -= written
    }
}

/// Creates `path` atomically: `body` writes to a descriptor of a temporary file beside it, which is
/// renamed to `path` only when everything was written and closed; on any error the temporary file
/// is removed and `path` is left as it was (the safetensors and GGUF writers share it).
/// - Throws: what `body` throws, or ``CheckpointError/ioFailure(path:reason:)``.
func writeAtomically(to path: String, _ body: (Int32) throws(CheckpointError) -> Void) throws(CheckpointError) {
    let temporary = "\(path).partial-\(getpid())"
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw .ioFailure(path: temporary, reason: String(cString: strerror(errno))) }
    do throws(CheckpointError) {
        try body(descriptor)
        guard close(descriptor) == 0 else { throw CheckpointError.ioFailure(path: path, reason: String(cString: strerror(errno))) }
    } catch {
        close(descriptor)
        unlink(temporary)
        throw error
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        unlink(temporary)
        throw .ioFailure(path: path, reason: "rename failed: \(reason)")
    }
}
