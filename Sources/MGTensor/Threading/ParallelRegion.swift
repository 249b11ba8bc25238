import Dispatch
import Synchronization

/// One call of ``Parallel/forEachChunk(count:minimumChunk:_:)``: chunks are claimed from a shared
/// counter by the calling thread and by helpers queued on Dispatch.
///
/// The caller never waits for a helper that has not started: if the helpers are not scheduled
/// (another process holds the cores), the caller claims and runs every chunk itself and waits only
/// for chunks a helper has already claimed. `concurrentPerform` instead waits for every worker it
/// asked for, so on a busy machine each parallel region of a small model cost a scheduler time slice.
final class ParallelRegion: @unchecked Sendable {
    private let chunkCount: Int
    private let chunkSize: Int
    private let count: Int
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let allFinished = DispatchSemaphore(value: 0)
    /// Read only by a thread that has claimed a chunk, which the caller waits for before clearing
    /// it, so the non-escaping closure never outlives the call.
    private var body: ((Range<Int>) -> Void)?

    static let helpers = DispatchQueue.global()

    init(count: Int, chunkSize: Int, body: @escaping (Range<Int>) -> Void) {
        self.count = count
        self.chunkSize = chunkSize
        self.chunkCount = (count + chunkSize - 1) / chunkSize
        self.body = body
    }

    /// Runs every chunk with up to `helperCount` helpers queued on `queue` and returns when all
    /// have finished.
    func run(helperCount: Int, on queue: DispatchQueue = helpers) {
        for _ in 0..<min(helperCount, chunkCount - 1) {
            queue.async { self.work(isCaller: false) }
        }
        if !work(isCaller: true) { allFinished.wait() }
        body = nil
    }

    /// Claims and runs chunks until none are left; true when this thread finished the last one.
    @discardableResult
    private func work(isCaller: Bool) -> Bool {
        var finishedLast = false
        while true {
            let chunk = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard chunk < chunkCount else { return finishedLast }
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
        let start = chunk * chunkSize
        body(start..<min(count, start + chunkSize))
    }
}
