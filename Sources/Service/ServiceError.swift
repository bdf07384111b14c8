import HTTPServer
import VideoDecode

/// Everything a classification can fail with, each mapped to one HTTP status.
public enum ServiceError: HTTPResponseError, Equatable {
    case badParameter(String)
    case malformedBody(String)
    case unsupportedMediaType(String)
    case unusableVideo(String)
    case overloaded(String)
    case notReady
    case deadlineExceeded(seconds: Double)
    case internalFailure

    public var status: HTTPStatus {
        switch self {
        case .badParameter, .malformedBody: 400
        case .unsupportedMediaType: 415
        case .unusableVideo: 422
        case .overloaded, .notReady: 503
        case .deadlineExceeded: 504
        case .internalFailure: 500
        }
    }

    public var detail: String {
        switch self {
        case .badParameter(let d), .malformedBody(let d), .unsupportedMediaType(let d), .unusableVideo(let d): d
        case .overloaded(let d): d
        case .notReady: "the model is still loading; retry shortly"
        case .deadlineExceeded(let s): "the clips were not computed within \(Int(s)) s; retry later or with fewer clips"
        case .internalFailure: "internal error"
        }
    }

    public var responseHeaders: HTTPHeaders {
        status == 503 ? ["Retry-After": "1"] : [:]
    }

    /// The status for each way decoding can fail.
    init(_ error: DecodeError) {
        switch error {
        case .emptyInput: self = .malformedBody(error.description)
        case .unsupportedContainer: self = .unsupportedMediaType(error.description)
        case .noVideoStream, .nothingDecodable, .dimensionsTooLarge, .tooLong, .tooManyFrames, .deadlineExceeded:
            self = .unusableVideo(error.description)
        case .internalFailure: self = .internalFailure
        }
    }
}

extension ServiceError {
    /// The client closed the connection before the answer (nginx's 499); only metrics and logs see it.
    static let clientGoneStatus = HTTPStatus.clientClosedRequest
}
