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
