import Dispatch
import Synchronization

/// One call of ``Parallel/forEachChunk(count:minimumChunk:_:)``: chunks are claimed from a shared
/// counter by the calling thread and by helpers (``WorkerPool`` threads, or queued on Dispatch).
///
/// The caller never waits for a helper that has not started: if the helpers are not scheduled
/// (another process holds the cores), the caller claims and runs every chunk itself and waits only
/// for chunks a helper has already claimed. `concurrentPerform` instead waits for every worker it
/// asked for, so on a busy machine each parallel region of a small model cost a scheduler time slice.
final class ParallelRegion: @unchecked Sendable {
    private let chunkCount: Int
    private let chunkSize: Int
    /// Chunk `i` is `starts[i] ..< starts[i + 1]` when set (tapered chunks), else `chunkSize` wide.
    private let starts: [Int]?
    private let count: Int
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let allFinished = DispatchSemaphore(value: 0)
    /// ParallelStatistics: the call's start and a helper's first claim (nanoseconds), when enabled.
    private let startTime: Int
    private let firstHelperClaim = Atomic<Int>(0)
    /// Pool helpers that joined, and how many may (set before the region is handed out).
    private let joined = Atomic<Int>(0)
    private var maximumHelpers = 0
    /// Read only by a thread that has claimed a chunk, which the caller waits for before clearing
    /// it, so the non-escaping closure never outlives the call.
    private var body: ((Range<Int>) -> Void)?

    static let helpers = DispatchQueue.global()

    init(count: Int, chunkSize: Int, body: @escaping (Range<Int>) -> Void) {
        self.count = count
        self.chunkSize = chunkSize
        self.chunkCount = (count + chunkSize - 1) / chunkSize
        self.starts = nil
        self.body = body
        self.startTime = ParallelStatistics.isEnabled ? ParallelStatistics.now() : 0
    }

    /// Chunks from `starts[i]` to `starts[i + 1]` (ascending, `starts[0] == 0`, the last one the count).
    init(starts: [Int], body: @escaping (Range<Int>) -> Void) {
        self.count = starts[starts.count - 1]
        self.chunkSize = 0
        self.chunkCount = starts.count - 1
        self.starts = starts
        self.body = body
        self.startTime = ParallelStatistics.isEnabled ? ParallelStatistics.now() : 0
    }

    /// Runs every chunk with up to `helperCount` helpers and returns when all have finished: the
    /// ``WorkerPool``'s threads when it is free and no `queue` is given, otherwise helpers queued on
    /// `queue` (Dispatch's global queue by default).
    func run(helperCount: Int, on queue: DispatchQueue? = nil) {
        let helperCount = min(helperCount, chunkCount - 1)
        maximumHelpers = helperCount
        var pool: WorkerPool?
        if helperCount > 0, queue == nil, let shared = WorkerPool.shared, shared.acquire(for: self) { pool = shared }
        if pool == nil {
            for _ in 0..<helperCount {
                (queue ?? Self.helpers).async { self.work(isCaller: false) }
            }
        }
        let finishedLast = work(isCaller: true)
        let callerDone = ParallelStatistics.isEnabled ? ParallelStatistics.now() : 0
        if !finishedLast { waitForHelpers() }
        pool?.release()
        body = nil
        if ParallelStatistics.isEnabled {
            let end = ParallelStatistics.now(), claim = firstHelperClaim.load(ordering: .relaxed)
            ParallelStatistics.record(
                count: count, start: startTime, end: end, handOff: claim == 0 ? nil : claim - startTime, callerWait: end - callerDone)
        }
    }

    /// A pool helper's entry: works on the region unless it already has its helpers.
    func join() {
        guard joined.wrappingAdd(1, ordering: .relaxed).newValue <= maximumHelpers else { return }
        work(isCaller: false)
    }

    /// The caller ran out of chunks while helpers still run some: spin briefly (the last chunk of a
    /// helper usually ends within microseconds), then sleep until the helper that finishes last signals.
    private func waitForHelpers() {
        if !WorkerPool.spin(while: { finished.load(ordering: .acquiring) != chunkCount }) { allFinished.wait() }
    }

    /// Claims and runs chunks until none are left; true when this thread finished the last one.
    @discardableResult
    private func work(isCaller: Bool) -> Bool {
        var finishedLast = false
        while true {
            let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard chunk < chunkCount else { return finishedLast }
            if !isCaller, ParallelStatistics.isEnabled {
                _ = firstHelperClaim.compareExchange(expected: 0, desired: ParallelStatistics.now(), ordering: .relaxed)
            }
            runChunk(chunk)
            if finished.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == chunkCount {
                finishedLast = true
                if !isCaller { allFinished.signal() }
            }
        }
    }

    // Kept out of line so the copy of `body` is released before the chunk is counted as finished.
    @inline(never)
    private func runChunk(_ chunk: Int) {
        guard let body else { return }
        if let starts {
            body(starts[chunk]..<starts[chunk + 1])
        } else {
            let start = chunk * chunkSize
            body(start..<min(count, start + chunkSize))
        }
    }
}
