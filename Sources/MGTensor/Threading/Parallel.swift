import CMGKernels
import COpenBLAS
import Foundation

/// Splits loops across the machine's cores. Kernels call it with a minimum chunk size so small
/// inputs stay on one thread, where the dispatch overhead would dominate.
public enum Parallel {
    /// Worker count: `MG_NUM_THREADS` when set to a positive integer, otherwise the active cores.
    public static let threadCount: Int = {
        if let text = ProcessInfo.processInfo.environment["MG_NUM_THREADS"], let value = Int(text), value > 0 {
            return value
        }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Prepares OpenBLAS once, before the first GEMM: Debian's OpenBLAS 0.3.21 does not recognise
    /// recent Xeons and falls back to its generic SSE3 ("Prescott") kernels, 4–5× slower than its
    /// AVX-512 ones, so the core type is corrected when the CPU supports better (an explicit
    /// `OPENBLAS_CORETYPE` wins); then BLAS gets the same thread count as our own loops.
    public static let configureBLAS: Void = {
        _ = mg_openblas_fix_coretype()
        openblas_set_num_threads(Int32(threadCount))
    }()

    /// Calls `body` on disjoint chunks covering `0..<count`, in parallel when `count` is at least
    /// twice `minimumChunk`. Each chunk is a contiguous range. The calling thread runs chunks too and
    /// never waits for a helper thread that has not started, so on a loaded machine a region goes
    /// on with the threads that are running (see `ParallelRegion`).
    public static func forEachChunk(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = min(threadCount, max(1, count / max(1, minimumChunk)))
        if workers <= 1 {
            body(0..<count)
            return
        }
        // A few chunks per worker balance uneven work (e.g. causal attention rows).
        let chunks = min(count, workers * 4)
        let size = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            ParallelRegion(count: count, chunkSize: size, body: body).run(helperCount: workers - 1)
        }
    }
}

extension Parallel {
    /// ``forEachChunk(count:minimumChunk:_:)`` with chunks that shrink towards the end: each is a
    /// quarter of what is left per worker (`remaining / (4 · workers)`, at least `minimumChunk`),
    /// so the thread that runs out of work first waits for at most a small last chunk of the other,
    /// where equal chunks of an eighth of the loop left one core idle for up to that eighth (the
    /// memory-bound decode products, whose one-core rate is well below the two-core one). The chunk
    /// boundaries depend only on `count`, `minimumChunk` and the thread count, never on timing; use it
    /// where the body's result does not depend on how the range is cut (independent rows).
    public static func forEachTaperedChunk(count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
        forEachTaperedChunk(count: count, minimumChunk: minimumChunk, fraction: 4, body)
    }

    /// ``forEachTaperedChunk(count:minimumChunk:_:)`` with chunks of `remaining / (fraction · workers)`
    /// (at least `minimumChunk`): 1 hands each worker half of what is left per worker first, so its
    /// first chunk is a long run of adjacent items; 0 means equal chunks (``forEachChunk(count:minimumChunk:_:)``).
    static func forEachTaperedChunk(count: Int, minimumChunk: Int, fraction: Int, _ body: (Range<Int>) -> Void) {
        guard fraction > 0 else { return forEachChunk(count: count, minimumChunk: minimumChunk, body) }
        guard count > 0 else { return }
        let minimum = max(1, minimumChunk)
        let workers = min(threadCount, max(1, count / minimum))
        if workers <= 1 {
            body(0..<count)
            return
        }
        var starts = [0]
        while starts[starts.count - 1] < count {
            let start = starts[starts.count - 1]
            starts.append(min(count, start + max(minimum, (count - start) / (fraction * workers))))
        }
        withoutActuallyEscaping(body) { body in
            ParallelRegion(starts: starts, body: body).run(helperCount: workers - 1)
        }
    }
}

/// Carries a value into a `@Sendable` closure where the caller guarantees the concurrent use is safe
/// (each parallel chunk touches disjoint memory).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
