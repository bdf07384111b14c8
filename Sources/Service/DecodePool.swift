import Foundation
import VideoDecode

/// A fixed set of threads that decode uploads, so decoding never runs on Swift's cooperative pool and can
/// never take more cores than it is given. Work waiting beyond `capacity` is refused with 503.
public final class DecodePool: @unchecked Sendable {
    private struct Work {
        let bytes: Data
        let clips: Int
        let continuation: CheckedContinuation<DecodedClips, Error>
    }

    private let limits: DecodeLimits
    private let capacity: Int
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var running = true

    public init(threads: Int, capacity: Int, limits: DecodeLimits) {
        self.limits = limits
        self.capacity = capacity
        for index in 0..<max(1, threads) {
            let thread = Thread { [weak self] in self?.work() }
            thread.name = "decode-\(index)"
            thread.start()
        }
    }

    /// - Throws: `DecodeError`, or `ServiceError.overloaded` when too many uploads are waiting.
    public func decode(_ bytes: Data, clips: Int) async throws -> DecodedClips {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = condition.withLock {
                guard queue.count < capacity else { return false }
                queue.append(Work(bytes: bytes, clips: clips, continuation: continuation))
                condition.signal()
                return true
            }
            if !accepted {
                continuation.resume(throwing: ServiceError.overloaded("too many uploads are being decoded; retry shortly"))
            }
        }
    }

    public func shutdown() {
        condition.withLock {
            running = false
            condition.broadcast()
        }
    }

    private func work() {
        while true {
            let work: Work? = condition.withLock {
                while queue.isEmpty && running { condition.wait() }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let work else { return }
            work.continuation.resume(with: Result { try ClipDecoder.decode(work.bytes, clips: work.clips, limits: limits) })
        }
    }
}
