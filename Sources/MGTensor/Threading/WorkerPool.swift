import CMGKernels
import Dispatch
import Foundation
import Synchronization

/// Helper threads of their own for ``ParallelRegion``, which stay awake (spinning, with a pause
/// hint) for a short while after each region, so that back-to-back regions — a decode step runs
/// ~160 of them, each 0.1–1 ms, with a few microseconds of serial work in between — start on both
/// cores at once instead of waking a Dispatch worker through the kernel each time (tens of
/// microseconds, during which one core streams the weights alone) and so that the caller does not
/// sleep in a semaphore while the helper finishes its last chunk.
///
/// One region at a time owns the pool; a region that finds it taken (a nested or concurrent call)
/// queues its helpers on Dispatch as before. Helpers that are not scheduled are never waited for:
/// the caller claims chunks itself (see ``ParallelRegion``).
///
/// `MG_SPIN_MICROSECONDS` sets how long an idle helper spins before sleeping (default 50; 0 sleeps
/// at once, waking like a Dispatch worker).
final class WorkerPool: @unchecked Sendable {
    /// Nil with one thread.
    static let shared: WorkerPool? = Parallel.threadCount > 1 ? WorkerPool(helperCount: Parallel.threadCount - 1) : nil

    /// How long an idle helper, and a caller waiting for the last chunk, spin before sleeping.
    static let spinNanoseconds: Int = {
        if let text = ProcessInfo.processInfo.environment["MG_SPIN_MICROSECONDS"], let value = Int(text), value >= 0 {
            return value * 1000
        }
        return 50_000
    }()

    private final class Helper: Sendable {
        /// `awake` (running or spinning) or `asleep` (waiting on `wake`).
        let state = Atomic<Int>(Helper.awake)
        let wake = DispatchSemaphore(value: 0)
        static let awake = 0, asleep = 1
    }

    /// Whether a region owns the pool.
    private let owned = Atomic<Bool>(false)
    /// Bumped once per region handed to the helpers.
    private let epoch = Atomic<Int>(0)
    /// The region being handed out, under an `NSLock` (which ThreadSanitizer sees; `Mutex` it does not on Linux).
    private let lock = NSLock()
    private var current: ParallelRegion?
    private let helpers: [Helper]

    private init(helperCount: Int) {
        helpers = (0..<helperCount).map { _ in Helper() }
        for helper in helpers {
            let thread = Thread { [unowned(unsafe) self] in self.serve(helper) }
            thread.name = "MGTensor worker"
            thread.start()
        }
    }

    /// Takes the pool for one region; false when another region has it.
    func acquire(for region: ParallelRegion) -> Bool {
        guard owned.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        lock.withLock { current = region }
        epoch.add(1, ordering: .sequentiallyConsistent)
        for helper in helpers
        where helper.state.compareExchange(expected: Helper.asleep, desired: Helper.awake, ordering: .sequentiallyConsistent).exchanged {
            helper.wake.signal()
        }
        return true
    }

    /// Gives the pool back once the region has finished.
    func release() {
        lock.withLock { current = nil }
        owned.store(false, ordering: .releasing)
    }

    /// Spins (with a pause hint) while `waiting()` holds, for at most ``spinNanoseconds``; false when
    /// that time ran out first, and the caller should sleep instead.
    static func spin(while waiting: () -> Bool) -> Bool {
        let start = ParallelStatistics.now()
        var spins = 0
        while waiting() {
            spins &+= 1
            if spins & 63 == 0, ParallelStatistics.now() - start > spinNanoseconds { return false }
            mg_cpu_relax()
        }
        return true
    }

    private func serve(_ helper: Helper) {
        var seen = 0
        while true {
            while !Self.spin(while: { epoch.load(ordering: .sequentiallyConsistent) == seen }) {
                park(helper, seen: seen)
            }
            seen = epoch.load(ordering: .sequentiallyConsistent)
            if let region = lock.withLock({ current }) { region.join() }
        }
    }

    /// Sleeps until a region is handed out after `seen`. Either the helper sees the new epoch after
    /// announcing its sleep, or the publisher sees the announcement (sequentially consistent); whoever
    /// flips the state back to awake decides whether the semaphore is signalled and must be taken.
    private func park(_ helper: Helper, seen: Int) {
        helper.state.store(Helper.asleep, ordering: .sequentiallyConsistent)
        if epoch.load(ordering: .sequentiallyConsistent) != seen,
           helper.state.compareExchange(expected: Helper.asleep, desired: Helper.awake, ordering: .sequentiallyConsistent).exchanged {
            return
        }
        helper.wake.wait()
    }
}
