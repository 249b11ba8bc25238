import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Allocates the large owned buffers (tensor storage, packed operands) and, where the kernel offers
/// transparent huge pages, backs them with 2 MB pages.
///
/// Most Linux kernels ship THP in "madvise" mode: anonymous memory gets 4 KB pages unless a mapping
/// asks for huge ones. A product writing a 24–614 MB output to fresh memory then takes one page
/// fault per 4 KB (512 times as many as with 2 MB pages; 12 % of the 614 MB vocabulary projection's
/// CPU time in bf16 mode on Zen 4; the TLB misses themselves measured no cost in the GEMM). Buffers of at least ``minimumBytes`` are therefore their own anonymous mappings,
/// 2 MB aligned, rounded up to whole huge pages and marked `MADV_HUGEPAGE`; smaller ones stay with
/// malloc. A huge page is resident as a whole, so a buffer holds at most one huge page more than it
/// asked for (< 2 MB). `MG_HUGE_PAGES=0` turns it off (for comparisons), as does THP "never".
package struct HugePageBuffers: Sendable {
    /// Size of a huge page (2 MB on x86-64), or nil when buffers use plain malloc.
    let pageBytes: Int?
    /// Smaller requests stay with malloc (their rounding would cost up to half their size).
    let minimumBytes: Int

    /// The allocator of ``StoragePool/shared`` and `PackingScratch`: huge pages when the kernel's
    /// THP setting allows them and `MG_HUGE_PAGES` is not `0`.
    package static let system = HugePageBuffers(
        pageBytes: ProcessInfo.processInfo.environment["MG_HUGE_PAGES"] == "0" ? nil : transparentHugePageBytes(),
        minimumBytes: 4 << 20)

    /// malloc only (64-byte aligned), as before huge pages.
    static let plain = HugePageBuffers(pageBytes: nil, minimumBytes: 4 << 20)

    /// At least `byteCount` bytes of uninitialised memory, 64-byte aligned (huge-page aligned when
    /// mapped), and the size to pass back to ``deallocate(_:byteCount:)``.
    package func allocate(byteCount: Int) -> (pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 1)
        guard let page = pageBytes, size >= minimumBytes else { return (.allocate(byteCount: size, alignment: 64), size) }
        let rounded = (size + page - 1) / page * page
        if let mapped = Self.mapAligned(byteCount: rounded, alignment: page) { return (mapped, rounded) }
        // No mapping (address space or map count exhausted): malloc, at a size that is not a whole
        // number of huge pages so that `deallocate` frees it rather than unmapping it.
        return (.allocate(byteCount: rounded + 64, alignment: 64), rounded + 64)
    }

    /// Returns memory from ``allocate(byteCount:)`` with the size it reported.
    package func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        if isMapping(byteCount: byteCount) {
            _ = munmap(pointer, byteCount)
        } else {
            pointer.deallocate()
        }
    }

    /// Whether an allocation of this reported size is one of our mappings.
    func isMapping(byteCount: Int) -> Bool {
        guard let page = pageBytes else { return false }
        return byteCount >= minimumBytes && byteCount % page == 0
    }

    /// An anonymous read-write mapping of `byteCount` bytes starting at a multiple of `alignment`,
    /// marked for huge pages: maps `alignment` more and unmaps the unaligned head and the tail.
    private static func mapAligned(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        let span = byteCount + alignment
        guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED
        else { return nil }
        let address = UInt(bitPattern: raw)
        let aligned = (address + UInt(alignment) - 1) / UInt(alignment) * UInt(alignment)
        let head = Int(aligned - address), tail = span - head - byteCount
        if head > 0 { _ = munmap(raw, head) }
        let start = raw + head
        if tail > 0 { _ = munmap(start + byteCount, tail) }
        // Advice only: on failure (THP compiled out) the mapping simply keeps 4 KB pages.
        _ = madvise(start, byteCount, MADV_HUGEPAGE)
        return start
    }

    /// The PMD huge-page size when THP is "always" or "madvise", else nil.
    private static func transparentHugePageBytes() -> Int? {
        let directory = "/sys/kernel/mm/transparent_hugepage/"
        guard let mode = try? String(contentsOfFile: directory + "enabled", encoding: .utf8),
            mode.contains("[always]") || mode.contains("[madvise]")
        else { return nil }
        let text = (try? String(contentsOfFile: directory + "hpage_pmd_size", encoding: .utf8)) ?? ""
        guard let bytes = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes > 0,
            bytes & (bytes - 1) == 0
        else { return nil }
        return bytes
    }
}
