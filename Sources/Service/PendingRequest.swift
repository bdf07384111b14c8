import Foundation
import Synchronization

/// One request's clips while they wait and compute, and the handler waiting for their logits.
final class PendingRequest: @unchecked Sendable {
    let clips: [Float]
    let count: Int
    let clipSize: Int
    let isCancelled: @Sendable () -> Bool
    let submitted: UInt64
    let requestClass: RequestClass
    var continuation: CheckedContinuation<ClipLogits, Error>?
    private let lock = NSLock()
    private var logits: [[Float]?]
    private var remaining: Int
    private var finished = false
    private var firstStart: UInt64?
    private var lastEnd: UInt64 = 0
    private let held: HeldRequests

    init(clips: [Float], count: Int, isCancelled: @escaping @Sendable () -> Bool, submitted: UInt64, held: HeldRequests,
         requestClass: RequestClass = .interactive) {
        precondition(count >= 1 && clips.count % count == 0)
        self.clips = clips
        self.count = count
        clipSize = clips.count / count
        self.isCancelled = isCancelled
        self.submitted = submitted
        self.requestClass = requestClass
        self.held = held
        logits = Array(repeating: nil, count: count)
        remaining = count
        held.count.add(1, ordering: .relaxed)
    }

    deinit { held.count.subtract(1, ordering: .relaxed) }

    var isFinished: Bool { lock.withLock { finished } }

    func started(at time: UInt64) {
        lock.withLock { if firstStart == nil { firstStart = time } }
    }

    func deliver(clip: Int, logits value: [Float], at time: UInt64) {
        let complete: ClipLogits? = lock.withLock {
            guard !finished else { return nil }
            logits[clip] = value
            remaining -= 1
            lastEnd = max(lastEnd, time)
            guard remaining == 0 else { return nil }
            let start = firstStart ?? submitted
            return ClipLogits(logits: logits.map { $0! }, queueSeconds: Double(start - submitted) / 1e9,
                              inferenceSeconds: Double(lastEnd - start) / 1e9)
        }
        if let complete { finish(.success(complete)) }
    }

    /// Resumes the waiting handler once. - Returns: false if it had already been resumed.
    @discardableResult
    func finish(_ result: Result<ClipLogits, Error>) -> Bool {
        let continuation: CheckedContinuation<ClipLogits, Error>? = lock.withLock {
            guard !finished else { return nil }
            finished = true
            defer { self.continuation = nil }
            return self.continuation
        }
        guard let continuation else { return false }
        continuation.resume(with: result)
        return true
    }
}

/// How many requests' clips the scheduler holds: queued, computing, or not yet released by their deadline timer.
/// Reported as a metric, so a leak of 2.3 MB per clip shows on a dashboard before it shows as RSS.
final class HeldRequests: Sendable {
    let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
}
