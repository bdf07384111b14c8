import Foundation
import R2Plus1D
import VideoDecode

/// Runs a labelled set through the same pieces as `serve`: the decode pool (sandboxed workers, or in-process),
/// the batch scheduler that gathers clips of many videos into one forward pass, and the pipeline between them.
/// Enough videos are in flight that decoding overlaps the forward passes and each pass finds a full batch queued.
public final class EvaluationRunner: Sendable {
    public let classes: Int
    private let pipeline: ClassificationPipeline
    private let scheduler: BatchScheduler
    private let decoder: DecodePool
    private let state = ServiceState()
    /// Videos read, decoded, queued or computed at once.
    private let window: Int

    /// Loads the weights and warms the network up; starts the decode threads (and their workers) and the batch
    /// workers.
    /// - Parameter configuration: `serve`'s settings; the HTTP ones are not used.
    /// - Throws: `WeightError`, or `WorkerStartError` where decode workers cannot run.
    public init(configuration: ServiceConfiguration, clipsPerVideo: Int) throws {
        BLASThreads.set(configuration.blasThreads)
        let network = try R2Plus1D18(weights: configuration.weights.load())
        classes = network.architecture.classes
        // As `serve` does before it is ready: the first pass pays for page faults, not for the set's clips.
        _ = network.forward(Tensor(zeros: [1] + ClipSpec.kinetics.shape))
        var configuration = configuration
        // Two batches' worth of videos beyond those decoding: when a forward pass ends, its videos' replacements
        // are only starting to decode, and the next batch must still be full (an odd batch leaves a core idle).
        let batchVideos = (configuration.batching.maxBatch + clipsPerVideo - 1) / clipsPerVideo
        window = 2 * configuration.decodeThreads + 2 * batchVideos
        // Every video in flight may have its clips queued at once: never refused for lack of room.
        configuration.batching.queueCapacity = max(configuration.batching.queueCapacity, window * clipsPerVideo)
        configuration.decodeQueue = max(configuration.decodeQueue, window)
        configuration.maxClips = max(configuration.maxClips, clipsPerVideo)
        let state = state
        let clipShape = ClipSpec.kinetics.shape
        let scheduler = BatchScheduler(settings: configuration.batching, metrics: MetricsRegistry(), forward: { clips, count in
            network.forward(Tensor(shape: [count] + clipShape, data: clips)).data
        }, incoming: { state.decodingCount })
        self.scheduler = scheduler
        if configuration.decodeInWorkers {
            try ClassificationService.workerConfiguration(configuration).probe(executable: configuration.workerExecutable)
        }
        let decoder = DecodePool(threads: configuration.decodeThreads, capacity: configuration.decodeQueue,
                                 makeDecoder: ClassificationService.decoders(configuration, metrics: MetricsRegistry()))
        self.decoder = decoder
        pipeline = ClassificationPipeline(
            decode: { video, clips, range in
                do {
                    return try await state.decodingUpload { try await decoder.decode(video, clips: clips, range: range) }
                } catch let error as DecodeError {
                    throw ServiceError(error)
                }
            },
            forward: { decoded, deadline, isCancelled in
                try await scheduler.classify(decoded.values, count: decoded.clipCount, isCancelled: isCancelled, deadlineSeconds: deadline)
            },
            labels: Labels(names: []), model: ModelInfo(source: configuration.weights),
            timeoutSeconds: configuration.requestTimeoutSeconds)
    }

    /// Evaluates `videos` (each with the model's index of its class), calling `record` with each result as it
    /// comes, in completion order, on the calling task. Failures are results, never thrown.
    /// - Parameter shouldStop: checked before each video starts; once true, the videos in flight finish and the
    ///   rest are not started.
    public func run(_ videos: [(item: EvaluationDataset.Item, target: Int)], clips: Int,
                    shouldStop: @escaping @Sendable () -> Bool = { false },
                    record: (EvaluationRecord) -> Void) async {
        let pipeline = pipeline
        await withTaskGroup(of: EvaluationRecord.self) { group in
            var next = 0
            func startOne() -> Bool {
                guard next < videos.count, !shouldStop() else { return false }
                let (item, target) = videos[next]
                next += 1
                group.addTask {
                    do {
                        guard let bytes = FileManager.default.contents(atPath: item.path) else {
                            return .failed(path: item.path, className: item.className, target: target, error: "cannot read the file")
                        }
                        let decoded = try await pipeline.decode(bytes, clips, nil)
                        let result = try await pipeline.forward(decoded, pipeline.timeoutSeconds, { false })
                        return EvaluationRecord(path: item.path, className: item.className, target: target, logits: result.logits)
                    } catch let error as ServiceError {
                        return .failed(path: item.path, className: item.className, target: target, error: error.detail)
                    } catch {
                        return .failed(path: item.path, className: item.className, target: target, error: "\(error)")
                    }
                }
                return true
            }
            var running = 0
            while true {
                while running < window && startOne() { running += 1 }
                guard let result = await group.next() else { return }
                running -= 1
                record(result)
            }
        }
    }

    /// Stops the batch workers and the decode threads (and their workers).
    public func shutdown() {
        scheduler.shutdown()
        decoder.shutdown()
    }
}
