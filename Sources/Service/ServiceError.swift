import HTTPServer
import VideoDecode

/// Everything a classification can fail with: a status and a detail the client may see.
///
/// A struct rather than an enum, as swift-nio's errors are, so a new kind of failure does not break callers:
/// compare with `==` against the static members.
public struct ServiceError: HTTPResponseError, Equatable {
    public let status: HTTPStatus
    public let detail: String

    init(_ status: HTTPStatus, _ detail: String) {
        self.status = status
        self.detail = detail
    }

    public var responseHeaders: HTTPHeaders {
        status == .serviceUnavailable ? ["Retry-After": "1"] : [:]
    }

    public static func badParameter(_ detail: String) -> ServiceError { ServiceError(.badRequest, detail) }
    public static func malformedBody(_ detail: String) -> ServiceError { ServiceError(.badRequest, detail) }
    public static func unsupportedMediaType(_ detail: String) -> ServiceError { ServiceError(.unsupportedMediaType, detail) }
    /// A video that decodes to nothing usable, or breaks a decode limit.
    public static func unusableVideo(_ detail: String) -> ServiceError { ServiceError(.unprocessableContent, detail) }
    /// The queue or the decode pool is full; retry.
    public static func overloaded(_ detail: String) -> ServiceError { ServiceError(.serviceUnavailable, detail) }
    public static let notReady = ServiceError(.serviceUnavailable, "the model is still loading; retry shortly")
    public static func deadlineExceeded(seconds: Double) -> ServiceError {
        ServiceError(.gatewayTimeout, "the clips were not computed within \(Int(seconds)) s; retry later or with fewer clips")
    }
    public static let internalFailure = ServiceError(.internalServerError, "internal error")
    /// The server's memory ran out while the upload decoded (`DecodeError.outOfMemory`).
    public static let outOfMemory = ServiceError(.serviceUnavailable, DecodeError.outOfMemory.description)

    /// The status for each way decoding can fail.
    init(_ error: DecodeError) {
        switch error.kind {
        case .emptyInput: self = .malformedBody(error.description)
        case .unsupportedContainer: self = .unsupportedMediaType(error.description)
        case .internalFailure: self = .internalFailure
        case .outOfMemory: self = .outOfMemory
        case .serverShortage: self = .overloaded(error.description)
        default: self = .unusableVideo(error.description)
        }
    }
}
