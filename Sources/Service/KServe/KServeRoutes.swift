import Foundation
import HTTPServer

/// The Open Inference Protocol v2 (REST) and KServe v1 routes: what tritonclient and the KServe SDK call.
/// Their clients read errors as `{"error": "..."}` with application/json, so these routes answer errors so,
/// never as problem+json.
enum KServeRoutes {
    static let serverName = "r2plus1d"
    static let serverVersion = "0.1.0"  // openapi.yaml's info.version
    static let extensions = ["binary_tensor_data", "classification"]

    /// - Parameter features: the width of EMBEDDING, for the model's metadata.
    static func add(to router: inout Router, pipeline: ClassificationPipeline, state: ServiceState,
                    configuration: ServiceConfiguration, features: Int) {
        let model = InferenceModel(classes: pipeline.labels.names.count, features: features, labels: pipeline.labels,
                                   maxClips: configuration.maxClips)
        let name = InferenceModel.name
        router.addInline("GET", "/v2") { _, _ in
            .json(ServerMetadata(name: serverName, version: serverVersion, extensions: extensions))
        }
        let metadata = model.metadata
        for base in ["/v2/models/\(name)", "/v2/models/\(name)/versions/\(InferenceModel.version)"] {
            router.addInline("GET", base) { _, _ in .json(metadata) }
            router.addInline("GET", base + "/ready") { _, _ in
                state.current == .ready ? HTTPResponse(status: .ok)
                    : error(ServiceError(.serviceUnavailable, "the model is \(state.current.name)"))
            }
            router.add("POST", base + "/infer") { request, context in
                await answering(request, context: context) { body in
                    try await infer(request, body: body, context: context, model: model, pipeline: pipeline, state: state)
                }
            }
        }
        router.addInline("GET", "/v1/models/\(name)") { _, _ in
            .json(V1ModelStatus(name: name, ready: state.current == .ready))
        }
        router.add("POST", "/v1/models/\(name):predict") { request, context in
            await answering(request, context: context) { body in
                guard state.current != .loading else { throw ServiceError.notReady }
                let predict = try V1PredictRequest(body: body, classes: model.classes, maxClips: configuration.maxClips, context: context)
                let predictions = try await withThrowingTaskGroup(of: (Int, [Classification.Prediction]).self) { group in
                    for (index, instance) in predict.instances.enumerated() {
                        group.addTask {
                            let answer = try await state.classifying {
                                try await pipeline.classify(instance.video, clips: instance.clips, topK: instance.topK,
                                                            isCancelled: { context.isCancelled })
                            }
                            return (index, answer.predictions)
                        }
                    }
                    var rows = [[Classification.Prediction]](repeating: [], count: predict.instances.count)
                    for try await (index, row) in group { rows[index] = row }
                    return rows
                }
                return .json(V1PredictResponse(predictions: predictions))
            }
        }
    }

    private static func infer(_ http: HTTPRequest, body: Data, context: RequestContext, model: InferenceModel,
                              pipeline: ClassificationPipeline, state: ServiceState) async throws -> HTTPResponse {
        guard state.current != .loading else { throw ServiceError.notReady }
        var headerLength: Int?
        if let text = http.headers["Inference-Header-Content-Length"] {
            guard let length = Int(text.trimmingCharacters(in: .whitespaces)), length >= 0 else {
                throw ServiceError.badParameter("Inference-Header-Content-Length must be a byte count, got '\(text.prefix(20))'")
            }
            headerLength = length
        }
        let request = try InferenceRequest(body: body, headerLength: headerLength, context: context)
        try model.validate(request)
        let source = try model.source(of: request)
        var timeout = Double.infinity
        if let microseconds = request.timeoutMicroseconds {
            guard microseconds > 0 else { throw ServiceError.badParameter("parameters.timeout is in microseconds and must be positive") }
            timeout = Double(microseconds) / 1e6
        }
        let outputs: [InferenceResponse.Output]
        if var options = request.timeline {
            guard case .video(let video, _) = source else { throw ServiceError.badParameter("parameters.timeline needs the VIDEO input") }
            options.topK = request.topK ?? options.topK
            let answer = try await state.classifying {
                try await pipeline.timeline(video, options: options, isCancelled: { context.isCancelled })
            }
            outputs = [model.timelineOutput(for: request, answer: answer)]
        } else {
            outputs = try await tensorOutputs(request, source: source, timeout: timeout, context: context, model: model,
                                              pipeline: pipeline, state: state)
        }
        let response = InferenceResponse(modelName: InferenceModel.name, modelVersion: InferenceModel.version, id: request.id,
                                         outputs: outputs)
        let (body, length) = response.encoded()
        var answer = HTTPResponse(status: .ok, body: body)
        if let length {
            answer.headers.set("Content-Type", "application/octet-stream")
            answer.headers.set("Inference-Header-Content-Length", String(length))
        } else {
            answer.headers.set("Content-Type", "application/json")
        }
        return answer
    }

    /// LOGITS, PROBS and EMBEDDING, as asked, from the clips' forward pass.
    private static func tensorOutputs(_ request: InferenceRequest, source: InferenceModel.Source, timeout: Double,
                                      context: RequestContext, model: InferenceModel, pipeline: ClassificationPipeline,
                                      state: ServiceState) async throws -> [InferenceResponse.Output] {
        let result = try await state.classifying {
            switch source {
            case .video(let video, let clips):
                try await pipeline.tensors(video, clips: clips, timeoutSeconds: timeout, isCancelled: { context.isCancelled })
            case .clips(let values, let count):
                try await pipeline.tensors(clips: values, count: count, timeoutSeconds: timeout, isCancelled: { context.isCancelled })
            }
        }
        return model.outputs(for: request, logits: result.logits, embeddings: result.embeddings)
    }

    /// Every path these routes serve.
    static let paths: Set<String> = {
        let name = InferenceModel.name, version = InferenceModel.version
        let bases = ["/v2/models/\(name)", "/v2/models/\(name)/versions/\(version)"]
        return Set(["/v2", "/v1/models/\(name)", "/v1/models/\(name):predict"] + bases.flatMap { [$0, $0 + "/ready", $0 + "/infer"] })
    }()

    /// A model name or version the server does not have, under the protocols' own paths, answered as their
    /// clients read errors (the router's 404 is problem+json, which they show as "unknown error"); nil otherwise.
    static func unknownModel(_ request: HTTPRequest) -> HTTPResponse? {
        let path = request.path
        guard path.hasPrefix("/v2/models/") || path.hasPrefix("/v1/models/"), !paths.contains(path) else { return nil }
        return error(ServiceError(.notFound, "no model at \(path.prefix(80)); this server has \(InferenceModel.name), version \(InferenceModel.version)"))
    }

    /// Runs `handler` on the request's body with its Content-Encoding undone (`RequestContext.decodedBody`),
    /// compresses the answer as Accept-Encoding asks, and answers any error as `{"error": ...}`.
    static func answering(_ request: HTTPRequest, context: RequestContext,
                          _ handler: (Data) async throws -> HTTPResponse) async -> HTTPResponse {
        do {
            let body = try context.decodedBody(of: request)
            return ContentCoding.compress(try await handler(body), acceptEncoding: request.headers.values("Accept-Encoding"))
        } catch let failure as HTTPResponseError {
            return error(failure)
        } catch is CancellationError {
            return error(ServiceError(.clientClosedRequest, "the client closed the connection"))
        } catch {
            return Self.error(ServiceError.internalFailure)
        }
    }

    /// `{"error": detail}` with the error's status and headers (Retry-After on 503).
    static func error(_ failure: HTTPResponseError) -> HTTPResponse {
        var response = HTTPResponse.json(ErrorBody(error: failure.detail), status: failure.status)
        for (name, value) in failure.responseHeaders { response.headers.set(name, value) }
        return response
    }

    struct ErrorBody: Encodable { var error: String }

    struct ServerMetadata: Encodable {
        var name: String
        var version: String
        var extensions: [String]
    }

    struct V1ModelStatus: Encodable {
        var name: String
        var ready: Bool
    }

    struct V1PredictResponse: Encodable {
        var predictions: [[Classification.Prediction]]
    }
}
