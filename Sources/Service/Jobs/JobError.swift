import HTTPServer

/// Everything the jobs API can fail with, each answered with its status.
public enum JobError: Error, Equatable, HTTPResponseError {
    case tooManyJobs(limit: Int, retryAfterSeconds: Int)
    case notFound(id: String)
    /// The same Idempotency-Key came with a different request.
    case idempotencyMismatch
    case badIdempotencyKey
    case illegalTransition(id: String, from: JobState, to: JobState)
    /// The shared store could not be reached or answered nonsense.
    case storeUnavailable(String)

    public var status: HTTPStatus {
        switch self {
        case .tooManyJobs, .storeUnavailable: .serviceUnavailable
        case .notFound: .notFound
        case .idempotencyMismatch: .unprocessableContent
        case .badIdempotencyKey: .badRequest
        case .illegalTransition: 409
        }
    }

    public var detail: String {
        switch self {
        case .tooManyJobs(let limit, _): "\(limit) jobs are queued or running already; retry later"
        case .notFound(let id): "no job \(id.prefix(40)): it never existed, or finished longer ago than jobs are kept"
        case .idempotencyMismatch: "this Idempotency-Key was used for a different request; use a new key"
        case .badIdempotencyKey: "Idempotency-Key must be 1 to 255 printable ASCII characters"
        case .illegalTransition(let id, let from, let to): "job \(id) cannot go from \(from.rawValue) to \(to.rawValue)"
        case .storeUnavailable: "the jobs store is unavailable; retry shortly"
        }
    }

    public var responseHeaders: HTTPHeaders {
        switch self {
        case .tooManyJobs(_, let seconds): ["Retry-After": "\(seconds)"]
        case .storeUnavailable: ["Retry-After": "1"]
        default: [:]
        }
    }
}
