#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A whole file mapped read-only into memory. Tensors borrow regions of it without copying; the
/// mapping lives as long as any of them does.
///
/// Like any mapping, it assumes the file is not truncated while mapped (reading a vanished page
/// raises SIGBUS); checkpoints are replaced by writing a new file and renaming it, which is safe.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The file size in bytes.
    public let byteCount: Int
    /// Start of the mapping (`nil` for an empty file, which cannot be mapped).
    let base: UnsafeRawPointer?

    /// Maps the file at `path`.
    /// - Throws: ``CheckpointError/fileNotFound(path:)`` or ``CheckpointError/ioFailure(path:reason:)``.
    public init(contentsOf url: URL) throws(CheckpointError) {
        let path = url.path
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw .fileNotFound(path: path) }
            throw .ioFailure(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw .ioFailure(path: path, reason: String(cString: strerror(errno)))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw .ioFailure(path: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        byteCount = size
        if size == 0 {
            base = nil
            return
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw .ioFailure(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapping)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), byteCount) }
    }

    /// Drops the pages wholly inside `range` from this process's resident set (the page cache
    /// keeps them; touching them again reads them back). For bytes a loader has copied and will
    /// not read again, so the copy does not count twice in the resident memory.
    func releaseResidentPages(_ range: Range<Int>) {
        guard let base, range.lowerBound >= 0, range.upperBound <= byteCount else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        guard start < end else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// The mapped bytes `range`, which the caller has checked lies inside the file.
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount)
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }
}
