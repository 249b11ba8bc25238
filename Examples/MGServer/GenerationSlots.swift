/// Admission control: at most `capacity` requests generate at once, at most `queueLimit` wait;
/// a request beyond both is refused (429) instead of piling up, and one that waited longer than
/// `queueTimeout` gives up (503).
actor GenerationSlots {
    let capacity: Int
    let queueLimit: Int
    let queueTimeout: Duration
    private(set) var active = 0
    private var waiting: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID = 0

    init(capacity: Int, queueLimit: Int, queueTimeout: Duration = .seconds(600)) {
        self.capacity = max(1, capacity)
        self.queueLimit = max(0, queueLimit)
        self.queueTimeout = queueTimeout
    }

    /// Number of requests waiting for a slot.
    var queued: Int { waiting.count }

    /// Waits for a slot. Pair every successful call with one ``release()``.
    /// - Throws: ``APIError`` 429 when the queue is full, 503 after waiting `queueTimeout`;
    ///   `CancellationError` when the waiting task is cancelled (its place in the queue is given up).
    func acquire() async throws {
        if active < capacity {
            active += 1
            return
        }
        guard waiting.count < queueLimit else {
            throw APIError(status: .tooManyRequests, message: "all \(capacity) generation slots and \(queueLimit) queue places are taken; retry later",
                           type: "rate_limit_error", code: "server_busy")
        }
        let id = nextID
        nextID += 1
        let timeout = queueTimeout
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.abandon(id, with: APIError(
                status: .serviceUnavailable, message: "no generation slot became free within \(timeout); retry later",
                type: "server_error", code: "server_overloaded"))
        }
        defer { timer.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiting.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.abandon(id) }
        }
    }

    /// Gives the slot to the longest-waiting request, or frees it.
    func release() {
        if waiting.isEmpty {
            active -= 1
        } else {
            waiting.removeFirst().continuation.resume()
        }
    }

    private func abandon(_ id: Int, with error: any Error = CancellationError()) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).continuation.resume(throwing: error)
    }
}

/// A taken slot, given back when the lease goes away: at the end of a non-streaming handler, or
/// when a streaming response body has been written — or dropped unwritten, should the connection
/// close before the body starts.
final class SlotLease: Sendable {
    private let slots: GenerationSlots

    /// Waits for a slot (see ``GenerationSlots/acquire()``).
    init(_ slots: GenerationSlots) async throws {
        try await slots.acquire()
        self.slots = slots
    }

    deinit {
        Task { [slots] in await slots.release() }
    }
}
