import Foundation

/// Jobs' work: the pipeline's timeline (decoded in a sandboxed worker, forwarded through the batch scheduler as
/// background clips, so jobs share the batching queue with requests without starving them), reporting progress
/// per window.
enum TimelineJobWork {
    static func make(pipeline: ClassificationPipeline) -> JobWork {
        { video, options, progress, isCancelled in
            try await pipeline.timeline(video, options: options, isCancelled: isCancelled) { window, total in
                progress(window.index + 1, total)
            }
        }
    }
}
