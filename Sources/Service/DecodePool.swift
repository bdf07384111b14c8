import DecodeSandbox
import Foundation
import Synchronization
import VideoDecode

/// Turns uploads into clips on one DecodePool thread: in a sandboxed worker process (`serve`), or in-process.
protocol UploadDecoder: AnyObject {
    /// - Throws: `DecodeError`.
    func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>?) throws -> DecodedClips
    /// Called at start and after each upload: the moment to get ready for the next one.
    func getReady()
    func stop()
}

/// Decoding in this process: for tests of the decode stage alone, and for comparisons.
final class InProcessDecoder: UploadDecoder {
    let limits: DecodeLimits
    init(limits: DecodeLimits) { self.limits = limits }
    func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>?) throws -> DecodedClips {
        try ClipDecoder.decode(bytes, clips: clips, range: range, limits: limits)
    }
    func getReady() {}
    func stop() {}
}

extension SandboxedDecoder: UploadDecoder {
    func getReady() {
        // A worker that cannot start now is tried again with the next upload, which then fails if it still cannot.
        try? prepare()
    }
}

/// A fixed set of threads that decode uploads, each with its own decoder, so decoding never runs on Swift's
/// cooperative pool and can never take more cores than it is given. Work waiting beyond `capacity` is refused
/// with 503.
final class DecodePool: @unchecked Sendable {
    private struct Work {
        let bytes: Data
        let clips: Int
        let range: ClosedRange<Double>?
        let continuation: CheckedContinuation<DecodedClips, Error>
    }

    private let capacity: Int
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var running = true
    private let busy = Atomic<Int>(0)
    private let stopped = DispatchGroup()

    /// - Parameter makeDecoder: the decoder of thread `index`, made on that thread.
    init(threads: Int, capacity: Int, makeDecoder: @escaping @Sendable (Int) -> UploadDecoder) {
        self.capacity = capacity
        for index in 0..<max(1, threads) {
            stopped.enter()
            let thread = Thread { [weak self] in
                let decoder = makeDecoder(index)
                self?.work(decoder)
                decoder.stop()
                self?.stopped.leave()
            }
            thread.name = "decode-\(index)"
            thread.start()
        }
    }

    /// Threads decoding now.
    var busyCount: Int { busy.load(ordering: .relaxed) }

    /// - Throws: `DecodeError`, or `ServiceError.overloaded` when too many uploads are waiting.
    func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>? = nil) async throws -> DecodedClips {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = condition.withLock {
                guard queue.count < capacity else { return false }
                queue.append(Work(bytes: bytes, clips: clips, range: range, continuation: continuation))
                condition.signal()
                return true
            }
            if !accepted {
                continuation.resume(throwing: ServiceError.overloaded("too many uploads are being decoded; retry shortly"))
            }
        }
    }

    /// Finishes the queued uploads, then stops every thread and its decoder; returns when they have stopped.
    func shutdown() {
        condition.withLock {
            running = false
            condition.broadcast()
        }
        stopped.wait()
    }

    private func work(_ decoder: UploadDecoder) {
        decoder.getReady()
        while true {
            let work: Work? = condition.withLock {
                while queue.isEmpty && running { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let work else { return }
            busy.add(1, ordering: .relaxed)
            let result = Result { try decoder.decode(work.bytes, clips: work.clips, range: work.range) }
            busy.subtract(1, ordering: .relaxed)
            work.continuation.resume(with: result)
            decoder.getReady()
        }
    }
}
