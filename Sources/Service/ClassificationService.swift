import Foundation
import HTTPServer
import Logging
import R2Plus1D
import Synchronization
import VideoDecode

/// The product: R(2+1)D-18 behind HTTP. Joins the engine, the decode stage and the server.
///
/// A request flows: HTTPServer (event loop) -> Router -> `classify` task -> DecodePool thread (bytes -> clips)
/// -> BatchScheduler queue -> a batch worker thread (forward pass) -> logits back to the task -> JSON.
public final class ClassificationService: Sendable {
    public let configuration: ServiceConfiguration
    public let model: ModelInfo
    let labels: Labels
    let metrics = MetricsRegistry()
    private let network: R2Plus1D18
    private let scheduler: BatchScheduler
    private let decoder: DecodePool
    private let server: HTTPServer
    private let logger: Logger
    private let state = Atomic<Int>(State.loading.rawValue)
    private let inFlight = Atomic<Int>(0)
    private let started = Atomic<Int>(0)
    /// Requests being decoded: the batch workers wait for their clips, and only for theirs.
    private let decoding: Counter
    /// The weights' name as a JSON string, for the health answers.
    private let modelJSON: String

    enum State: Int {
        case loading, ready, draining
        var name: String { ["loading", "ready", "draining"][rawValue] }
    }

    public var port: Int { server.port }

    /// Classifications being decoded, queued or computed now, and how many have started since launch: lets the
    /// process tell when it has gone idle after some work.
    public var activity: (inFlight: Int, started: Int) {
        (inFlight.load(ordering: .relaxed), started.load(ordering: .relaxed))
    }
    var currentState: State { State(rawValue: state.load(ordering: .acquiring))! }

    /// Loads and checks the weights and labels, and binds the port. The warm-up runs in `run`.
    /// - Throws: `WeightError`, `LabelsError`, `SocketError` or `TLSError`, each with a message that says what to fix.
    public init(configuration: ServiceConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        BLASThreads.set(configuration.blasThreads)
        network = try R2Plus1D18(weights: configuration.weights.load())
        model = ModelInfo(source: configuration.weights)
        modelJSON = Self.jsonString(model.weights)
        labels = try Labels(path: configuration.labelsPath, classes: network.architecture.classes)
        metrics.declareServiceMetrics(maxBatch: configuration.batching.maxBatch)
        let decoding = Counter()
        self.decoding = decoding
        scheduler = BatchScheduler(model: network, settings: configuration.batching, metrics: metrics) { decoding.value }
        decoder = DecodePool(threads: configuration.decodeThreads, capacity: configuration.decodeQueue, limits: configuration.decodeLimits)
        let metrics = metrics
        var router = Router()
        let box = ServiceBox()
        Self.addRoutes(&router, box: box)
        let routeNames = router
        server = try HTTPServer(configuration: configuration.http, router: router, logger: logger) { completed in
            metrics.increment(MetricName.requests, labels: ["route": routeNames.routeName(for: completed.path),
                                                             "method": completed.method, "status": "\(completed.status)"])
            metrics.observe(MetricName.requestDuration, completed.durationSeconds,
                            labels: ["route": routeNames.routeName(for: completed.path)])
        }
        box.service = self
        metrics.gauge(MetricName.ready, help: "1 when the service takes classifications.") { [weak box] in
            box?.service?.currentState == .ready ? 1 : 0
        }
        metrics.gauge(MetricName.modelInfo, help: "The model served; weights=\"demo\" for demo weights.",
                      labels: ["name": model.name, "weights": model.weights, "sha256": model.sha256 ?? "",
                               "blas_kernels": BLASKernels.selection.kernels.name, "blas_chosen": BLASKernels.selection.sourceLabel]) { 1 }
        metrics.gauge(MetricName.inFlight, help: "Classifications being decoded, queued or computed.") { [weak box] in
            Double(box?.service?.inFlight.load(ordering: .relaxed) ?? 0)
        }
    }

    /// Warms up, serves until SIGTERM or SIGINT, drains (readiness turns 503 first) and returns.
    public func run() {
        logger.info("listening", metadata: ["server.port": "\(port)", "model.weights": "\(model.weights)",
                                            "blas.kernels": "\(BLASKernels.selection.kernels)", "blas.chosen": "\(BLASKernels.selection.how)",
                                            "model.demo": "\(model.demo)", "batch.max": "\(configuration.batching.maxBatch)"])
        Thread.detachNewThread { [self] in
            let start = DispatchTime.now().uptimeNanoseconds
            _ = network.forward(Tensor(zeros: [1] + DecodedShape.clip))
            logger.info("warm-up done", metadata: ["warmup.ms": "\(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)"])
            _ = state.compareExchange(expected: State.loading.rawValue, desired: State.ready.rawValue, ordering: .acquiringAndReleasing)
        }
        server.runUntilSignalled { [self] in
            state.store(State.draining.rawValue, ordering: .releasing)
            logger.info("draining: readiness is now 503")
        }
        scheduler.shutdown()
        decoder.shutdown()
    }

    /// Starts a drain as SIGTERM would (for tests and embedding).
    public func drain() {
        server.drain { [self] in state.store(State.draining.rawValue, ordering: .releasing) }
    }

    // MARK: - Handlers

    func classify(_ request: HTTPRequest, context: RequestContext) async throws -> HTTPResponse {
        let arrived = DispatchTime.now().uptimeNanoseconds
        // While draining the listener stays open a moment (readiness already 503) and requests are still served;
        // once it closes the server itself answers new requests 503.
        guard currentState != .loading else { throw ServiceError.notReady }
        let topK = try Self.integer(request, "top_k", default: 5, range: 1...labels.names.count)
        let clipCount = try Self.integer(request, "clips", default: 1, range: 1...configuration.maxClips)
        let video = try Self.videoBytes(request)
        inFlight.add(1, ordering: .relaxed)
        started.add(1, ordering: .relaxed)
        defer { inFlight.subtract(1, ordering: .relaxed) }
        let decoded: DecodedClips
        decoding.add(1)
        do {
            defer { decoding.add(-1) }
            decoded = try await decoder.decode(video, clips: clipCount)
        } catch let error as DecodeError {
            throw ServiceError(error)
        }
        let decodedAt = DispatchTime.now().uptimeNanoseconds
        let decodeSeconds = Double(decodedAt - arrived) / 1e9
        metrics.observe(MetricName.decodeDuration, decodeSeconds)
        let result: BatchScheduler.Result
        do {
            result = try await scheduler.classify(decoded.values, count: decoded.clipCount, context: context,
                                                  deadlineSeconds: configuration.requestTimeoutSeconds - decodeSeconds)
        } catch is CancellationError {
            return .problem(status: ServiceError.clientGoneStatus, detail: "the client closed the connection")
        }
        metrics.observe(MetricName.queueDuration, result.queueSeconds)
        let total = Double(DispatchTime.now().uptimeNanoseconds - arrived) / 1e9
        let timing = Classification.Timing(decode: decodeSeconds * 1000, queue: result.queueSeconds * 1000,
                                           inference: result.inferenceSeconds * 1000, total: total * 1000)
        return .json(Classification(logits: result.logits, labels: labels, topK: topK, decoded: decoded, model: model, timing: timing))
    }

    /// A query integer within `range`, or the default when absent.
    static func integer(_ request: HTTPRequest, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = request.head.queryValue(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ServiceError.badParameter("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text.prefix(40))'")
        }
        return number
    }

    /// The video: multipart field `video`, `file` or `data`, or the whole body for video/* and application/octet-stream.
    static func videoBytes(_ request: HTTPRequest) throws -> Data {
        let contentType = request.headers["Content-Type"] ?? ""
        let bytes: Data
        if let boundary = Multipart.boundary(contentType: contentType) {
            let parts: [MultipartPart]
            do { parts = try Multipart.parse(request.body, boundary: boundary) } catch let error as MultipartError {
                throw ServiceError.malformedBody(error.detail)
            }
            guard let part = parts.first(where: { ["video", "file", "data"].contains($0.name ?? "") }) else {
                throw ServiceError.malformedBody("the form has no field named video, file or data")
            }
            bytes = part.body
        } else {
            let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard type != "multipart/form-data" else {
                throw ServiceError.malformedBody("multipart/form-data needs a boundary parameter of 1 to 70 characters")
            }
            guard type.hasPrefix("video/") || type == "application/octet-stream" else {
                throw ServiceError.unsupportedMediaType(
                    "send the video as multipart/form-data (field video) or as a video/* or application/octet-stream body, not '\(type)'")
            }
            bytes = request.body
        }
        guard !bytes.isEmpty else { throw ServiceError.malformedBody("the video is empty") }
        return bytes
    }

    func modelDescription() -> HTTPResponse {
        struct Description: Encodable {
            struct Input: Encodable {
                var shape = ["N", "3", "16", "112", "112"]
                var frames = 16
                var frame_rate = 15.0
                var resize = [128, 171]
                var crop = 112
                var mean = [0.43216, 0.394666, 0.37645]
                var std = [0.22803, 0.22145, 0.216989]
            }
            struct Weights: Encodable { var source: String; var sha256: String?; var demo: Bool
                func encode(to encoder: Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(source, forKey: .source); try c.encode(sha256, forKey: .sha256); try c.encode(demo, forKey: .demo)
                }
                enum CodingKeys: CodingKey { case source, sha256, demo }
            }
            struct Batching: Encodable { var max_batch: Int; var max_delay_ms: Double; var workers: Int; var threads: Int; var queue_size: Int }
            var name: String
            var architecture = "R(2+1)D-18: torchvision VideoResNet(BasicBlock, [Conv2Plus1D] * 4, [2, 2, 2, 2], R2Plus1dStem)"
            var input = Input()
            var classes: Int
            var weights: Weights
            var batching: Batching
            var max_clips: Int
            var state: String
            var blas_kernels = BLASKernels.selection.kernels.name
            var blas_kernels_chosen = BLASKernels.selection.how
        }
        let c = configuration
        return .json(Description(name: model.name, classes: labels.names.count,
                                 weights: .init(source: model.weights, sha256: model.sha256, demo: model.demo),
                                 batching: .init(max_batch: c.batching.maxBatch, max_delay_ms: c.batching.maxDelaySeconds * 1000,
                                                 workers: c.batching.workers, threads: c.blasThreads, queue_size: c.batching.queueCapacity),
                                 max_clips: c.maxClips, state: currentState.name))
    }

    /// `{"model":...,"status":...}`, built by hand: probes and load balancers call it often.
    func health(readiness: Bool) -> HTTPResponse {
        let state = currentState
        let status = readiness ? state.name : "ok"
        let body = #"{"model":"# + modelJSON + #","status":""# + status + #""}"#
        var response = HTTPResponse(status: readiness && state != .ready ? 503 : 200, body: Data(body.utf8))
        response.headers.set("Content-Type", "application/json")
        if response.status == 503 { response.headers.set("Retry-After", "1") }
        return response
    }

    /// A JSON string literal for `text`.
    static func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func addRoutes(_ router: inout Router, box: ServiceBox) {
        for path in ["/classify", "/v1/classify"] {
            router.add("POST", path) { request, context in
                guard let service = box.service else { throw ServiceError.notReady }
                return try await service.classify(request, context: context)
            }
        }
        for path in ["/labels", "/v1/labels"] {
            router.addInline("GET", path) { request, _ in
                guard let labels = box.service?.labels.names else { throw ServiceError.notReady }
                switch request.head.queryValue("format") {
                case "text": return .text(labels.joined(separator: "\n") + "\n")
                case nil, "json": return .json(labels)
                case let other?: throw ServiceError.badParameter("format must be json or text, got '\(other.prefix(40))'")
                }
            }
        }
        for path in ["/healthz", "/v2/health/live"] {
            router.addInline("GET", path) { _, _ in box.service?.health(readiness: false) ?? .text("ok") }
        }
        for path in ["/readyz", "/v2/health/ready"] {
            router.addInline("GET", path) { _, _ in
                box.service?.health(readiness: true) ?? .problem(status: 503, detail: "starting", headers: ["Retry-After": "1"])
            }
        }
        router.addInline("GET", "/v1/model") { _, _ in
            guard let service = box.service else { throw ServiceError.notReady }
            return service.modelDescription()
        }
        router.addInline("GET", "/metrics") { _, _ in
            guard let service = box.service else { throw ServiceError.notReady }
            return .text(service.metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}

/// Lets the routes reach the service that owns the server they are registered on.
final class ServiceBox: @unchecked Sendable {
    weak var service: ClassificationService?
}

/// A shared count (requests decoding) that closures can hold.
private final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func add(_ delta: Int) { count.add(delta, ordering: .relaxed) }
}
