import Foundation
import HTTPServer
import Logging

/// Every route of the service. Each handler captures the parts it uses, nothing more.
enum ServiceRoutes {
    static func make(pipeline: ClassificationPipeline, state: ServiceState, metrics: MetricsRegistry,
                     configuration: ServiceConfiguration, features: Int = 512, jobs: JobRunner? = nil) -> Router {
        var router = Router()
        KServeRoutes.add(to: &router, pipeline: pipeline, state: state, configuration: configuration, features: features)
        let labels = pipeline.labels.names
        for path in ["/classify", "/v1/classify"] {
            router.add("POST", path) { request, context in
                // While draining the listener stays open a moment (readiness already 503) and requests are still
                // served; once it closes the server itself answers new requests 503.
                guard state.current != .loading else { throw ServiceError.notReady }
                let asked = try ClassifyRequest(request, classes: labels.count, maxClips: configuration.maxClips, context: context)
                if let options = asked.timeline {
                    return try await timeline(asked.video, options, request: request, context: context, pipeline: pipeline,
                                              state: state, metrics: metrics)
                }
                do {
                    let answer = try await state.classifying {
                        try await pipeline.classify(asked.video, clips: asked.clips, topK: asked.topK, range: asked.range,
                                                    isCancelled: { context.isCancelled })
                    }
                    return .json(answer)
                } catch is CancellationError {
                    return .problem(status: .clientClosedRequest, detail: "the client closed the connection")
                }
            }
        }
        for path in ["/labels", "/v1/labels"] {
            router.addInline("GET", path) { request, _ in
                switch request.head.queryValue("format") {
                case "text": return .text(labels.joined(separator: "\n") + "\n")
                case nil, "json": return .json(labels)
                case let other?: throw ServiceError.badParameter("format must be json or text, got '\(other.prefix(40))'")
                }
            }
        }
        let modelJSON = jsonString(pipeline.model.weights)
        for path in ["/healthz", "/v2/health/live"] {
            router.addInline("GET", path) { _, _ in
                health(state.current, readiness: false, modelJSON: modelJSON, kserve: path.hasPrefix("/v2"))
            }
        }
        for path in ["/readyz", "/v2/health/ready"] {
            router.addInline("GET", path) { _, _ in
                health(state.current, readiness: true, modelJSON: modelJSON, kserve: path.hasPrefix("/v2"))
            }
        }
        let model = pipeline.model
        router.addInline("GET", "/v1/model") { _, _ in
            .json(ModelDescription(model: model, classes: labels.count, configuration: configuration, state: state.current.name))
        }
        router.addInline("GET", "/metrics") { _, _ in
            .text(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        if configuration.webUI { WebUI().register(on: &router) }
        if let jobs { JobRoutes.add(to: &router, jobs: jobs, classes: labels.count, state: state) }
        return router
    }

    /// A timeline, as one JSON answer or streamed as NDJSON.
    static func timeline(_ video: Data, _ options: TimelineOptions, request: HTTPRequest, context: RequestContext,
                         pipeline: ClassificationPipeline, state: ServiceState, metrics: MetricsRegistry) async throws -> HTTPResponse {
        let run: @Sendable (@escaping @Sendable (Timeline.Window) -> Void) async throws -> Classification = { onWindow in
            try await state.classifying {
                try await pipeline.timeline(video, options: options, isCancelled: { context.isCancelled }, onWindow: { window, _ in
                    metrics.increment(MetricName.timelineWindows)
                    onWindow(window)
                })
            }
        }
        do {
            if TimelineStream.isAccepted(request) { return try await TimelineStream.response(run) }
            return .json(try await run { _ in })
        } catch is CancellationError {
            return .problem(status: .clientClosedRequest, detail: "the client closed the connection")
        }
    }

    /// `{"model":...,"status":...}`, built by hand: probes and load balancers call it often. With `kserve`, also
    /// `"live"` or `"ready"` as a boolean, which the KServe SDK reads.
    static func health(_ phase: ServiceState.Phase, readiness: Bool, modelJSON: String, kserve: Bool = false) -> HTTPResponse {
        let status = readiness ? phase.name : "ok"
        let flag = kserve ? (readiness ? #","ready":\#(phase == .ready)"# : #","live":true"#) : ""
        let body = #"{"model":"# + modelJSON + #","status":""# + status + #"""# + flag + "}"
        var response = HTTPResponse(status: readiness && phase != .ready ? .serviceUnavailable : .ok, body: Data(body.utf8))
        response.headers.set("Content-Type", "application/json")
        if response.status == .serviceUnavailable { response.headers.set("Retry-After", "1") }
        return response
    }

    /// A JSON string literal for `text`.
    static func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
