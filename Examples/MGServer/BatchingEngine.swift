import Foundation
import MGLanguage
import MGPipeline
import MGTensor

/// Continuous batching: one scheduler thread owns the language model's decode loop. Each
/// iteration runs one prefill chunk of at most one newcomer, then one decode step for every
/// active sequence together (``MGLanguage/DecoderModel/decodeStep(ids:caches:)``: one pass over
/// the weights, each sequence with its own KV cache). New requests join between steps.
///
/// A newcomer's vision work (towers, mining, projector) runs on its own task, beside the loop,
/// and its prefill is cut into chunks of `prefillChunk` positions, so the other streams keep
/// getting a token per iteration. A request whose consumer goes away is dropped at the start of
/// the next iteration, which frees its cache.
final class BatchingEngine: AnswerEngine, @unchecked Sendable {
    let languageModel: DecoderModel
    let prefillChunk: Int
    /// Guards `inbox`; the loop sleeps on it when there is nothing to do.
    private let condition = NSCondition()
    private var inbox: [BatchJob] = []
    private var statistics = SchedulerStatistics()

    /// Counters of the decode loop since start (for `/health` and the benchmark).
    var currentStatistics: SchedulerStatistics {
        condition.lock()
        defer { condition.unlock() }
        return statistics
    }

    init(languageModel: DecoderModel, prefillChunk: Int = 64) {
        self.languageModel = languageModel
        self.prefillChunk = max(1, prefillChunk)
        // The loop lives as long as the process (a server engine is made once).
        let thread = Thread { self.loop() }
        thread.name = "mgm-batch-scheduler"
        thread.start()
    }

    func respond(_ model: MiniGemini, to request: MiniGeminiRequest) -> AsyncThrowingStream<MiniGeminiEvent, any Error> {
        AsyncThrowingStream { continuation in
            let job = BatchJob(model: model, request: request, continuation: continuation)
            guard model.languageModel === languageModel else {
                continuation.finish(throwing: MiniGeminiError.invalidRequest("the batching engine serves another model"))
                return
            }
            let vision = Task.detached { [self] in
                do {
                    job.prepared = try model.prepare(request)
                    enqueue(job)
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { [self] _ in
                job.cancel()
                vision.cancel()
                wake()
            }
        }
    }

    private func enqueue(_ job: BatchJob) {
        condition.lock()
        inbox.append(job)
        condition.signal()
        condition.unlock()
    }

    private func wake() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    // MARK: - The scheduler loop (only this thread touches the jobs' decoding state)

    private func loop() {
        var prefilling: [BatchJob] = []
        var active: [BatchJob] = []
        while true {
            condition.lock()
            while inbox.isEmpty, prefilling.isEmpty, active.isEmpty { condition.wait() }
            prefilling += inbox
            inbox.removeAll()
            condition.unlock()

            prefilling.removeAll { $0.isCancelled }
            active.removeAll { $0.isCancelled }
            if let job = prefilling.first {
                if prefillChunk(job) {
                    prefilling.removeFirst()
                    if job.isActive { active.append(job) }
                }
            }
            if !active.isEmpty { active = decodeStep(active) }
        }
    }

    /// Runs one chunk of `job`'s prefill; returns true when its prefill is over (then its first
    /// token has been sampled, or it has ended).
    private func prefillChunk(_ job: BatchJob) -> Bool {
        guard let prepared = job.prepared else { return true }
        do {
            if job.decoder == nil {
                let length = prepared.embeddings.shape[0]
                job.decoder = try SequenceDecoder(
                    model: languageModel, tokenizer: job.model.tokenizer, promptTokenIDs: prepared.inputIDs.filter { $0 != imagePlaceholderID },
                    promptLength: length, parameters: job.request.parameters)
                job.cache = try languageModel.newCache(maximumLength: SequenceDecoder.cacheCapacity(
                    promptLength: length, parameters: job.request.parameters, maximumPositions: languageModel.configuration.maximumPositions))
            }
            let total = prepared.embeddings.shape[0]
            let end = min(total, job.prefilled + prefillChunk)
            let start = DispatchTime.now().uptimeNanoseconds
            let rows = try MGTensor.slice(prepared.embeddings, axis: 0, range: job.prefilled..<end)
            let logits = try languageModel.forward(inputEmbeddings: rows, cache: &job.cache!)
            job.prefillSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            job.prefilled = end
            guard end == total else { return false }
            job.deliver(try job.decoder!.accept(logits: logits))
        } catch {
            job.fail(error)
        }
        return true
    }

    /// One decode step for every active job; returns those still active.
    private func decodeStep(_ active: [BatchJob]) -> [BatchJob] {
        let iterationStart = DispatchTime.now().uptimeNanoseconds
        var modelNanoseconds: UInt64 = 0
        defer {
            let total = DispatchTime.now().uptimeNanoseconds - iterationStart
            condition.lock()
            statistics.record(rows: active.count, modelNanoseconds: modelNanoseconds, totalNanoseconds: total)
            condition.unlock()
        }
        var stepping: [BatchJob] = []
        var ids: [Int] = []
        var caches: [KVCache] = []
        for job in active {
            guard let cache = job.cache else { continue }
            if let token = job.decoder?.nextInput(cacheHasRoom: cache.length < cache.capacity) {
                ids.append(token)
                caches.append(cache)
                // The step's array holds the only reference, so the cache is written in place.
                job.cache = nil
                stepping.append(job)
            } else {
                job.deliver(nil)
            }
        }
        guard !stepping.isEmpty else { return [] }
        do {
            let modelStart = DispatchTime.now().uptimeNanoseconds
            let logits = try languageModel.decodeStep(ids: ids, caches: &caches)
            modelNanoseconds = DispatchTime.now().uptimeNanoseconds - modelStart
            for (index, job) in stepping.enumerated() {
                job.cache = caches[index]
                do {
                    job.deliver(try job.decoder!.accept(logits: logits.row(index)))
                } catch {
                    job.fail(error)
                }
            }
        } catch {
            for job in stepping { job.fail(error) }
        }
        return stepping.filter { $0.isActive }
    }
}

/// One request in the batching engine.
final class BatchJob: @unchecked Sendable {
    let model: MiniGemini
    let request: MiniGeminiRequest
    private let continuation: AsyncThrowingStream<MiniGeminiEvent, any Error>.Continuation
    private let lock = NSLock()
    private var cancelled = false

    // Set by the vision task before the job is enqueued; read by the loop afterwards.
    var prepared: PreparedPrompt?
    // Owned by the scheduler loop.
    var decoder: SequenceDecoder?
    var cache: KVCache?
    var prefilled = 0
    var prefillSeconds = 0.0
    private(set) var isActive = true

    init(model: MiniGemini, request: MiniGeminiRequest, continuation: AsyncThrowingStream<MiniGeminiEvent, any Error>.Continuation) {
        self.model = model
        self.request = request
        self.continuation = continuation
    }

    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }

    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }

    /// Passes on a decoded event; nil (the sequence ended) flushes the held-back text, sends the
    /// info and closes the stream.
    func deliver(_ event: GenerationEvent?) {
        switch event {
        case .chunk(let text, let ids)?:
            if !text.isEmpty || !ids.isEmpty { continuation.yield(.chunk(text: text, tokenIDs: ids)) }
            if decoder?.stopReason != nil { finish() }
        case .info?:
            break
        case nil:
            finish()
        }
    }

    private func finish() {
        guard isActive, var decoder, let prepared else { return }
        isActive = false
        if case .chunk(let text, let ids)? = decoder.flush() { continuation.yield(.chunk(text: text, tokenIDs: ids)) }
        self.decoder = decoder
        continuation.yield(.finished(MiniGeminiInfo(
            prompt: prepared.text, inputIDs: prepared.inputIDs, visionSeconds: prepared.visionSeconds,
            generation: decoder.info(prefillSeconds: prefillSeconds))))
        continuation.finish()
        cache = nil
    }

    func fail(_ error: any Error) {
        isActive = false
        cache = nil
        continuation.finish(throwing: error)
    }
}

/// What the decode loop has done: steps, rows, and the time inside the model's batched step
/// versus the whole step (sampling, detokenising and handing text to the HTTP side included).
struct SchedulerStatistics: Sendable {
    var steps = 0
    var rows = 0
    var modelSeconds = 0.0
    var stepSeconds = 0.0

    mutating func record(rows: Int, modelNanoseconds: UInt64, totalNanoseconds: UInt64) {
        steps += 1
        self.rows += rows
        modelSeconds += Double(modelNanoseconds) / 1e9
        stepSeconds += Double(totalNanoseconds) / 1e9
    }

    var jsonObject: [String: Any] {
        ["decode_steps": steps, "decoded_rows": rows, "model_seconds": modelSeconds, "step_seconds": stepSeconds,
         "overhead_fraction": modelSeconds > 0 ? (stepSeconds - modelSeconds) / modelSeconds : 0]
    }
}
