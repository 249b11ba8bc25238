import Foundation

/// How far a ``HubClient/snapshot(_:files:progress:)`` download is, reported several times a second.
public struct HubDownloadProgress: Sendable, Equatable {
    /// Bytes written so far in this call (resumed bytes already on disk are counted as done).
    public var completedBytes: Int64
    /// Bytes of all files to fetch (0 when the Hub listed no sizes).
    public var totalBytes: Int64
    /// Files finished.
    public var completedFiles: Int
    /// Files to fetch.
    public var totalFiles: Int
    /// Average rate since the first byte, in bytes per second.
    public var bytesPerSecond: Double
    /// True for the last report.
    public var finished: Bool

    public init(completedBytes: Int64, totalBytes: Int64, completedFiles: Int, totalFiles: Int, bytesPerSecond: Double, finished: Bool) {
        self.completedBytes = completedBytes
        self.totalBytes = totalBytes
        self.completedFiles = completedFiles
        self.totalFiles = totalFiles
        self.bytesPerSecond = bytesPerSecond
        self.finished = finished
    }

    /// One line for a terminal: `[=====>    ] 512.0 MB / 1.2 GB  3/9 files  48.1 MB/s`.
    public func bar(width: Int = 30) -> String {
        let fraction = totalBytes > 0 ? min(1, Double(completedBytes) / Double(totalBytes)) : (finished ? 1 : 0)
        let filled = Int((fraction * Double(width)).rounded(.down))
        let arrow = filled < width ? ">" : ""
        let bar = String(repeating: "=", count: filled) + arrow + String(repeating: " ", count: max(0, width - filled - arrow.count))
        return "[\(bar)] \(Self.bytes(completedBytes)) / \(Self.bytes(totalBytes))  \(completedFiles)/\(totalFiles) files  \(Self.bytes(Int64(bytesPerSecond)))/s"
    }

    /// `1.5 MB`, decimal units as `huggingface_hub`'s tqdm bars.
    public static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// Counts bytes from the parallel downloads and calls the reporter at most every 100 ms.
final class ProgressTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var completedBytes: Int64 = 0
    private var completedFiles = 0
    private let totalBytes: Int64
    private let totalFiles: Int
    private let start = DispatchTime.now().uptimeNanoseconds
    private var lastReport: UInt64 = 0
    private let report: (@Sendable (HubDownloadProgress) -> Void)?

    init(totalBytes: Int64, totalFiles: Int, report: (@Sendable (HubDownloadProgress) -> Void)?) {
        self.totalBytes = totalBytes
        self.totalFiles = totalFiles
        self.report = report
    }

    var bytes: Int64 { lock.withLock { completedBytes } }

    func add(bytes: Int64) { update { $0.completedBytes += bytes } }

    func fileFinished() { update(force: true) { $0.completedFiles += 1 } }

    func finish() {
        guard let report else { return }
        report(snapshot(finished: true))
    }

    private func update(force: Bool = false, _ change: (ProgressTracker) -> Void) {
        let now = DispatchTime.now().uptimeNanoseconds
        let due: Bool = lock.withLock {
            change(self)
            guard force || now - lastReport >= 100_000_000 else { return false }
            lastReport = now
            return true
        }
        if due, let report { report(snapshot(finished: false)) }
    }

    private func snapshot(finished: Bool) -> HubDownloadProgress {
        lock.withLock {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return HubDownloadProgress(
                completedBytes: completedBytes, totalBytes: totalBytes, completedFiles: completedFiles, totalFiles: totalFiles,
                bytesPerSecond: seconds > 0 ? Double(completedBytes) / seconds : 0, finished: finished)
        }
    }
}
