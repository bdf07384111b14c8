/// A multipart/form-data body that cannot be split into parts; answered 400 with what is malformed.
public struct MultipartError: HTTPResponseError, Equatable, CustomStringConvertible {
    public let detail: String

    init(_ detail: String) { self.detail = detail }

    public var status: HTTPStatus { .badRequest }
    public var description: String { detail }
}
