import Foundation
import HTTPServer

/// `POST /v1/jobs`, `GET /v1/jobs/{id}`, `DELETE /v1/jobs/{id}`.
enum JobRoutes {
    /// What a client sees of a job: its owner and lease stay inside.
    struct View: Encodable {
        var id: String
        var state: String
        var progress: Double
        var windows_done: Int
        var windows_total: Int
        var created_s: Double
        var updated_s: Double
        var finished_s: Double?
        var cancel_requested: Bool
        var result: JSONValue?
        var error: String?

        init(_ job: JobRecord) {
            id = job.id
            state = job.state.rawValue
            progress = job.progress
            windows_done = job.windows_done
            windows_total = job.windows_total
            created_s = job.created_s
            updated_s = job.updated_s
            finished_s = job.finished_s
            cancel_requested = job.cancel_requested
            result = job.result
            error = job.error
        }
    }

    static func location(_ id: String) -> String { "/v1/jobs/\(id)" }

    static func add(to router: inout Router, jobs: JobRunner, classes: Int, state: ServiceState) {
        router.add("POST", "/v1/jobs") { request, context in
            guard state.current != .loading else { throw ServiceError.notReady }
            guard state.current != .draining else { throw ServiceError.overloaded("the server is shutting down; submit the job to another replica") }
            let asked = try JobRequest(request, classes: classes, context: context)
            let filed = try await jobs.submit(video: asked.video, options: asked.options, idempotency: asked.idempotency)
            var headers: HTTPHeaders = ["Location": location(filed.job.id)]
            if !filed.created { headers.set("Idempotent-Replayed", "true") }
            return .json(View(filed.job), status: .accepted, headers: headers)
        }
        router.add("GET", "/v1/jobs/{id}") { request, _ in
            let id = request.parameters["id"] ?? ""
            guard JobID.isWellFormed(id), let job = try await jobs.status(id) else { throw JobError.notFound(id: id) }
            return .json(View(job))
        }
        router.add("DELETE", "/v1/jobs/{id}") { request, _ in
            let id = request.parameters["id"] ?? ""
            guard JobID.isWellFormed(id), let job = try await jobs.cancel(id) else { throw JobError.notFound(id: id) }
            return .json(View(job), status: job.state.isFinished ? .ok : .accepted)
        }
    }
}
