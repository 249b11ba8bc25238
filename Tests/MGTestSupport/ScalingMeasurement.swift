import Foundation

/// Helpers for tests that check how a cost grows with input size (linear, not quadratic).
public enum ScalingMeasurement {
    /// `scalars` scalars of `unit` repeated.
    public static func text(_ unit: String, scalars: Int) -> String {
        let unitScalars = Array(unit.unicodeScalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: (0..<scalars).map { unitScalars[$0 % unitScalars.count] })
        return String(view)
    }

    /// The best of `runs` timings of `work`, in seconds of this thread's CPU time: other
    /// processes and parallel tests taking the cores do not count, wall-clock time would.
    public static func seconds(_ runs: Int, _ work: () -> Void) -> Double {
        func now() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
        }
        var best = Double.infinity
        for _ in 0..<runs {
            let start = now()
            work()
            best = min(best, now() - start)
        }
        return best
    }
}
