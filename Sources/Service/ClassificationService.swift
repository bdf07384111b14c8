import DecodeSandbox
import Foundation
import HTTPServer
import Logging
import R2Plus1D
import VideoDecode

/// The product: R(2+1)D-18 behind HTTP. The composition root: it builds the engine, the decode pool, the batch
/// scheduler, the pipeline that joins them, the routes and the server, and runs their lifecycle.
///
/// A request flows: HTTPServer (event loop) -> route task -> DecodePool thread (bytes -> clips) -> the batch
/// queue -> a batch worker thread (forward pass) -> logits back to the task -> JSON -> the event loop.
public final class ClassificationService: Sendable {
    public let configuration: ServiceConfiguration
    public let model: ModelInfo
    private let network: R2Plus1D18
    private let scheduler: BatchScheduler
    private let decoder: DecodePool
    /// This process's async jobs.
    public let jobs: JobRunner
    private let server: HTTPServer
    private let logger: Logger
    private let state = ServiceState()

    public var port: Int { server.port }

    /// Classifications being decoded, queued or computed now, and how many have started since launch: lets the
    /// process tell when it has gone idle after some work.
    public var activity: (inFlight: Int, started: Int) { (state.inFlightCount, state.startedCount) }

    /// Loads and checks the weights and labels, and binds the port. The warm-up runs in `run`.
    /// - Throws: `WeightError`, `LabelsError`, `SocketError`, `TLSError` or `WorkerStartError`, each with a message
    ///   that says what to fix.
    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        BLASThreads.set(configuration.blasThreads)
        let network = try R2Plus1D18(weights: configuration.weights.load())
        self.network = network
        model = ModelInfo(source: configuration.weights)
        let labels = try Labels(path: configuration.labelsPath, classes: network.architecture.classes)
        let metrics = MetricsRegistry()
        metrics.declareServiceMetrics(maxBatch: configuration.batching.maxBatch)
        let state = state
        let clipShape = ClipSpec.kinetics.shape
        let scheduler = BatchScheduler(settings: configuration.batching, metrics: metrics, forward: { clips, count in
            ClipLogits.rows(network.forwardWithFeatures(Tensor(shape: [count] + clipShape, data: clips)))
        }, incoming: { state.decodingCount })
        self.scheduler = scheduler
        // Fail at start, saying what to do, where workers cannot run at all, rather than on every upload.
        if configuration.decodeInWorkers { try Self.workerConfiguration(configuration).probe(executable: configuration.workerExecutable) }
        let decoder = DecodePool(threads: configuration.decodeThreads, capacity: configuration.decodeQueue,
                                 makeDecoder: Self.decoders(configuration, metrics: metrics))
        self.decoder = decoder
        let classes = network.architecture.classes
        /// Through the batch scheduler, whose rows carry `[logits | features]`, split apart here for every caller.
        let forward: @Sendable (DecodedClips, Double, @escaping @Sendable () -> Bool, RequestClass) async throws -> ClipLogits = {
            decoded, deadline, isCancelled, requestClass in
            let result = try await scheduler.classify(decoded.values, count: decoded.clipCount, isCancelled: isCancelled,
                                                      deadlineSeconds: deadline, requestClass: requestClass)
            metrics.observe(MetricName.queueDuration, result.queueSeconds)
            return result.splittingEmbeddings(classes: classes)
        }
        let pipeline = ClassificationPipeline(
            decode: { video, clips, range in
                let start = DispatchTime.now().uptimeNanoseconds
                defer { metrics.observe(MetricName.decodeDuration, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
                do {
                    return try await state.decodingUpload { try await decoder.decode(video, clips: clips, range: range) }
                } catch let error as DecodeError {
                    throw ServiceError(error)
                }
            },
            walk: { video, grid, chunk, body in
                do {
                    // Not counted as an upload on its way to the queue: a walk lasts as long as the video.
                    // A worker's output region holds `maxClips` clips, and a chunk must fit the batch queue.
                    let chunk = min(chunk, configuration.maxClips, configuration.batching.queueCapacity)
                    return try await decoder.walk(video, grid: grid, chunk: chunk, body: body)
                } catch let error as DecodeError {
                    throw ServiceError(error)
                }
            },
            forward: { decoded, deadline, isCancelled in try await forward(decoded, deadline, isCancelled, .interactive) },
            labels: labels, model: model, timeoutSeconds: configuration.requestTimeoutSeconds)
        // A job's forward passes queue as background work, and its windows wait as long as the job runs, for room
        // in the queue too.
        let background = ClassificationPipeline(decode: pipeline.decode, walk: pipeline.walk, forward: ClassificationPipeline.waitingForRoom {
            clips, _, isCancelled in try await forward(clips, 7 * 86400, isCancelled, .background)
        }, labels: pipeline.labels, model: pipeline.model)
        let uploads = BodyBudget(limit: configuration.http.bodyBudgetBytes)
        let jobs = try JobRunner(store: Self.jobStore(configuration), settings: configuration.jobs, metrics: metrics, logger: logger,
                                 uploads: uploads, work: TimelineJobWork.make(pipeline: background))
        self.jobs = jobs
        var routes = ServiceRoutes.make(pipeline: pipeline, state: state, metrics: metrics, configuration: configuration,
                                        features: network.architecture.featureCount, jobs: jobs)
        let authentication = try Authentication.admission(configuration, metrics: metrics, logger: logger)
        routes.admission = { request in authentication?(request) ?? KServeRoutes.unknownModel(request) }
        routes.cors = configuration.cors
        if let cors = configuration.cors { logger.info("cross-origin calls allowed", metadata: ["cors.origins": "\(cors.description)"]) }
        let router = routes
        server = try HTTPServer(configuration: configuration.http, router: router, logger: logger, bodyBudget: uploads) { completed in
            let route = router.routeName(for: completed.path)
            metrics.increment(MetricName.requests, labels: ["route": route, "method": completed.method, "status": "\(completed.status)"])
            metrics.observe(MetricName.requestDuration, completed.durationSeconds, labels: ["route": route])
        }
        metrics.gauge(MetricName.ready, help: "1 when the service takes classifications.") { state.current == .ready ? 1 : 0 }
        let selection = BLASKernels.selection
        metrics.gauge(MetricName.modelInfo, help: "The model served; weights=\"demo\" for demo weights.",
                      labels: ["name": model.name, "weights": model.weights, "sha256": model.sha256 ?? "",
                               "blas_kernels": selection.kernels.name, "blas_chosen": selection.sourceLabel]) { 1 }
        metrics.gauge(MetricName.decodeBusy, help: "Decode threads (and their workers) decoding an upload now.") {
            Double(decoder.busyCount)
        }
        metrics.gauge(MetricName.inFlight, help: "Classifications being decoded, queued or computed.") { Double(state.inFlightCount) }
        let http = server
        metrics.gauge(MetricName.connections,
                      help: "Connections open now; at \(configuration.http.maxConnections) (--max-connections, fitted to the open-file limit) more get 503.") {
            Double(http.openConnections)
        }
        for reason in HTTPServer.ConnectionRefusal.allCases {
            metrics.counter(MetricName.connectionsRefused,
                            help: "Connections answered 503 as they arrived, by reason: limit (--max-connections), descriptors (the open-file limit).",
                            labels: ["reason": reason.rawValue]) { Double(http.refusedConnections(reason)) }
        }
        let budget = server.bodyBudget
        metrics.gauge(MetricName.bufferedBodyBytes,
                      help: "Upload bytes held now: request bodies (decoded ones included) and live jobs' uploads; at \(budget.limit) (--max-buffered-upload-mb) uploads get 503.") {
            Double(budget.inUse)
        }
    }

    static func workerConfiguration(_ c: ServiceConfiguration) -> WorkerConfiguration {
        var worker = WorkerConfiguration(inputBytes: c.http.limits.maxBodyBytes, maxClips: c.maxClips, limits: c.decodeLimits)
        worker.memoryBytes = c.workerMemoryBytes
        worker.testFaults = c.workerTestFaults
        return worker
    }

    /// One decoder per decode thread: a sandboxed worker each, or in-process.
    static func decoders(_ c: ServiceConfiguration, metrics: MetricsRegistry) -> @Sendable (Int) -> UploadDecoder {
        guard c.decodeInWorkers else { return { _ in InProcessDecoder(limits: c.decodeLimits) } }
        let worker = workerConfiguration(c)
        let shared = SandboxedDecoder.Shared { reason in
            metrics.increment(MetricName.decodeWorkerRestarts, labels: ["reason": reason])
        }
        return { [worker] _ in
            SandboxedDecoder(configuration: worker, shared: shared, maxRequests: c.workerMaxRequests,
                             maxResidentBytes: c.workerMaxResidentBytes, executable: c.workerExecutable)
        }
    }

    /// Warms up, serves until SIGTERM or SIGINT, drains (readiness turns 503 first) and returns.
    public func run() {
        logger.info("listening", metadata: ["server.port": "\(port)", "model.weights": "\(model.weights)",
                                            "blas.kernels": "\(BLASKernels.selection.kernels)", "blas.chosen": "\(BLASKernels.selection.how)",
                                            "model.demo": "\(model.demo)", "batch.max": "\(configuration.batching.maxBatch)",
                                            "blas.threads": "\(configuration.blasThreads)",
                                            "decode.threads": "\(configuration.decodeThreads)"])
        if let notice = BLASKernels.pinNotice { logger.notice("\(notice)") }
        Thread.detachNewThread { [network, logger, state] in
            let start = DispatchTime.now().uptimeNanoseconds
            _ = network.forward(Tensor(zeros: [1] + ClipSpec.kinetics.shape))
            logger.info("warm-up done", metadata: ["warmup.ms": "\(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)"])
            state.becomeReady()
        }
        server.runUntilSignalled { [state, logger] in
            state.beginDraining()
            logger.info("draining: readiness is now 503")
        }
        // Before the scheduler stops: a job's thread must not outlive the process's teardown.
        jobs.shutdown(waitingUpTo: configuration.http.drainTimeoutSeconds)
        scheduler.shutdown()
        decoder.shutdown()
    }

    /// Starts a drain as SIGTERM would (for tests and embedding).
    public func drain() {
        server.drain { [state] in state.beginDraining() }
    }
}
