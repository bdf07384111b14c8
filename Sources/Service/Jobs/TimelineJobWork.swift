import Foundation
import VideoDecode

/// Jobs' work over the pipeline's in-process timeline: it runs on a thread of its own (it decodes and blocks,
/// which the cooperative pool must not), and each chunk's clips go through the batch scheduler as background
/// clips, so jobs share the batching queue with requests without starving them.
enum TimelineJobWork {
    /// A forward pass that may suspend: the batch scheduler's, for background clips.
    typealias Forward = @Sendable (_ clips: DecodedClips, _ isCancelled: @escaping @Sendable () -> Bool) async throws -> ClipLogits

    static func make(pipeline: ClassificationPipeline, limits: DecodeLimits, forward: @escaping Forward) -> JobWork {
        { video, options, progress, isCancelled in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Classification, Error>) in
                let thread = Thread {
                    do {
                        continuation.resume(returning: try run(pipeline, video, options, limits, forward, progress, isCancelled))
                    } catch let error as DecodeError {
                        continuation.resume(throwing: ServiceError(error))
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = "job-timeline"
                thread.start()
            }
        }
    }

    private static func run(_ pipeline: ClassificationPipeline, _ video: Data, _ options: TimelineOptions, _ limits: DecodeLimits,
                            _ forward: @escaping Forward, _ progress: @Sendable (Int, Int) -> Void,
                            _ isCancelled: @escaping @Sendable () -> Bool) throws -> Classification {
        var done = 0, total = 0
        return try pipeline.timeline(video, options: options, limits: limits, forward: { clips in
            guard !isCancelled() else { throw CancellationError() }
            if total == 0 {
                total = options.windows(duration: clips.info.durationSeconds).count
                progress(0, total)
            }
            return try waitFor { try await forward(clips, isCancelled) }
        }, onWindow: { _ in
            done += 1
            progress(done, total)
        })
    }

    /// Blocks this (non-pool) thread until `body` finishes.
    private static func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = OutcomeBox<T>()
        let finished = DispatchSemaphore(value: 0)
        Task {
            do { outcome.value = .success(try await body()) } catch { outcome.value = .failure(error) }
            finished.signal()
        }
        finished.wait()
        return try outcome.value!.get()
    }
}

/// A result handed from a task to the thread waiting on the semaphore, which orders the two accesses.
private final class OutcomeBox<T>: @unchecked Sendable {
    var value: Result<T, Error>?
}
