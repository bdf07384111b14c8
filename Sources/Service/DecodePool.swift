import DecodeSandbox
import Foundation
import Synchronization
import VideoDecode

/// Turns uploads into clips on one DecodePool thread: in a sandboxed worker process (`serve`), or in-process.
protocol UploadDecoder: AnyObject {
    /// - Throws: `DecodeError`.
    func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>?) throws -> DecodedClips
    /// A timeline's windows, walking the video forward once; `body` returning false stops the walk.
    /// - Throws: `DecodeError`, or what `body` throws.
    func walk(_ bytes: Data, grid: WindowGrid, chunk: Int, body: (DecodedClips) throws -> Bool) throws -> VideoInfo
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
    func walk(_ bytes: Data, grid: WindowGrid, chunk: Int, body: (DecodedClips) throws -> Bool) throws -> VideoInfo {
        try ClipDecoder.walk(bytes, grid: grid, chunk: chunk, limits: limits, body: body)
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
    /// Work for a decode thread: `run` does it with the thread's decoder and returns how to hand over the result.
    private struct Work {
        let run: (UploadDecoder) -> () -> Void
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
        try await submit { decoder in try decoder.decode(bytes, clips: clips, range: range) }
    }

    /// A timeline's windows, a chunk at a time, on one decode thread (and its worker) for the whole walk.
    /// `body` runs on the cooperative pool while the thread waits, and the worker decodes the next chunk.
    /// - Throws: `DecodeError`, `ServiceError.overloaded`, or what `body` throws.
    func walk(_ bytes: Data, grid: WindowGrid, chunk: Int,
              body: @escaping @Sendable (DecodedClips) async throws -> Bool) async throws -> VideoInfo {
        try await submit { decoder in
            try decoder.walk(bytes, grid: grid, chunk: chunk) { clips in try runBlocking { try await body(clips) } }
        }
    }

    private func submit<T: Sendable>(_ job: @escaping (UploadDecoder) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let work = Work { decoder in
                let result = Result { try job(decoder) }
                return { continuation.resume(with: result) }
            }
            let accepted = condition.withLock {
                guard queue.count < capacity else { return false }
                queue.append(work)
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
            let handOver = work.run(decoder)
            busy.subtract(1, ordering: .relaxed)
            handOver()
            decoder.getReady()
        }
    }
}
