/// The service's metric names, in one place.
enum MetricName {
    static let requests = "r2plus1d_http_requests_total"
    static let requestDuration = "r2plus1d_http_request_duration_seconds"
    static let decodeDuration = "r2plus1d_decode_duration_seconds"
    static let queueDuration = "r2plus1d_queue_duration_seconds"
    static let inferenceDuration = "r2plus1d_inference_duration_seconds"
    static let batchSize = "r2plus1d_batch_size"
    static let queueDepth = "r2plus1d_queue_depth_clips"
    static let inFlight = "r2plus1d_requests_in_flight"
    static let clipsComputed = "r2plus1d_clips_computed_total"
    static let clipsDropped = "r2plus1d_clips_dropped_total"
    static let forwardCalls = "r2plus1d_forward_calls_total"
    static let ready = "r2plus1d_ready"
    static let modelInfo = "r2plus1d_model_info"
    static let requestsHeld = "r2plus1d_batch_requests_held"
    static let decodeBusy = "r2plus1d_decode_workers_busy"
    static let bufferedBodyBytes = "r2plus1d_http_buffered_body_bytes"
    static let connections = "r2plus1d_http_connections"
    static let connectionsRefused = "r2plus1d_http_connections_refused_total"
    static let decodeWorkerRestarts = "r2plus1d_decode_worker_restarts_total"
    static let timelineWindows = "r2plus1d_timeline_windows_total"
    static let jobs = "r2plus1d_jobs_total"
    static let jobsLive = "r2plus1d_jobs"
}

extension MetricsRegistry {
    /// Declares every metric the service reports.
    func declareServiceMetrics(maxBatch: Int) {
        let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        counter(MetricName.requests, help: "HTTP requests answered, by route, method and status.")
        histogram(MetricName.requestDuration, help: "Time from a request's first byte to its response, by route.", buckets: seconds)
        histogram(MetricName.decodeDuration, help: "Time to decode and transform one upload into clips.", buckets: seconds)
        histogram(MetricName.queueDuration, help: "Time a request's first clip waited in the batching queue.", buckets: seconds)
        histogram(MetricName.inferenceDuration, help: "Time of one batched forward pass.", buckets: seconds)
        histogram(MetricName.batchSize, help: "Clips per forward pass.", buckets: (1...max(1, maxBatch)).map(Double.init))
        counter(MetricName.clipsComputed, help: "Clips run through the network.")
        counter(MetricName.clipsDropped, help: "Clips dropped before compute, by reason (client gone, deadline passed).")
        counter(MetricName.forwardCalls, help: "Batched forward passes.")
        counter(MetricName.timelineWindows, help: "Timeline windows computed.")
        counter(MetricName.decodeWorkerRestarts,
                help: "Decode workers replaced, by reason (crash, out_of_memory, sandbox, deadline, cpu, protocol, recycled_requests, recycled_memory).")
    }
}
