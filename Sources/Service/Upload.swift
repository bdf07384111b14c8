import Foundation
import HTTPServer

/// What a classification request asks for: the video's bytes and its options (`RequestOptions`).
struct ClassifyRequest {
    var video: Data
    var topK: Int
    var clips: Int
    /// `start_s` and `end_s`: sample only this stretch of the video.
    var range: ClosedRange<Double>?
    /// `timeline=1`: what happens when, with `window_s`, `stride_s`, `threshold` and `min_segment_s`.
    var timeline: TimelineOptions?

    /// - Parameter context: the request's, which decodes a coded body (`RequestContext.decodedBody`).
    /// - Throws: `ServiceError.badParameter`, `.malformedBody` or `.unsupportedMediaType`; `MultipartError`;
    ///   `ContentCodingError`.
    init(_ request: HTTPRequest, classes: Int, maxClips: Int, context: RequestContext) throws {
        let options: RequestOptions
        (video, options) = try Self.upload(request, context: context)
        topK = try Self.integer(options, "top_k", default: 5, range: 1...classes)
        clips = try Self.integer(options, "clips", default: 1, range: 1...maxClips)
        let start = try Self.seconds(options, "start_s"), end = try Self.seconds(options, "end_s")
        if start != nil || end != nil {
            let from = start ?? 0, to = end ?? .greatestFiniteMagnitude
            guard from < to else { throw ServiceError.badParameter("start_s must be below end_s") }
            range = from...to
        }
        timeline = try Self.timelineOptions(options, topK: topK)
    }

    /// The timeline options, or nil without `timeline=1` (unless `implied`: a job is always one).
    static func timelineOptions(_ options: RequestOptions, topK: Int, implied: Bool = false) throws -> TimelineOptions? {
        if !implied {
            switch try options.value("timeline") {
            case nil, "0", "false": return nil
            case "1", "true": break
            case let other?: throw ServiceError.badParameter("timeline must be 1 or 0, got '\(other.prefix(40))'")
            }
        }
        return try TimelineOptions(topK: topK) { try seconds(options, $0) }
    }

    /// An integer option within `range`, or the default when absent.
    static func integer(_ options: RequestOptions, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = try options.value(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw ServiceError.badParameter("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text.prefix(40))'")
        }
        return number
    }

    /// An option's number of seconds, at least 0, or nil when absent.
    static func seconds(_ options: RequestOptions, _ name: String) throws -> Double? {
        guard let text = try options.value(name) else { return nil }
        guard let value = Double(text), value.isFinite, value >= 0 else {
            throw ServiceError.badParameter("\(name) must be a number of seconds, at least 0, got '\(text.prefix(40))'")
        }
        return value
    }

    /// The video (multipart field `video`, `file` or `data`, else the form's one file; or the whole body, for
    /// video/*, application/octet-stream, a container's own type or no Content-Type) and the options (the query, and
    /// a form's other fields). A body sent with Content-Encoding is decoded first, by `context`.
    static func upload(_ request: HTTPRequest, context: RequestContext) throws -> (video: Data, options: RequestOptions) {
        let contentType = request.headers["Content-Type"] ?? ""
        let body = try context.decodedBody(of: request)
        let bytes: Data
        let options: RequestOptions
        if let boundary = Multipart.boundary(contentType: contentType) {
            let fields = try Multipart.parse(body, boundary: boundary)
            var videos = fields.filter { videoFields.contains($0.name ?? "") }
            // Else the form's one file, whatever its field is called.
            // An HTML form's file input left empty sends a part with filename="" and no bytes.
            let files = fields.filter { part in part.filename.map { !$0.isEmpty || !part.body.isEmpty } ?? false }
            if videos.isEmpty, files.count == 1 { videos = files }
            guard let part = videos.first else {
                throw ServiceError.malformedBody("the form has no field named video, file or data, nor a single file")
            }
            if let empty = videos.first(where: { $0.body.isEmpty }) {
                throw ServiceError.malformedBody("the form's field \(empty.name ?? "video") is empty")
            }
            bytes = part.body
            options = RequestOptions(query: request.head.query, formFields: fields.filter { !videoFields.contains($0.name ?? "") })
        } else {
            let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard type != "multipart/form-data" else {
                throw ServiceError.malformedBody("multipart/form-data needs a boundary parameter of 1 to 70 characters")
            }
            guard type.hasPrefix("video/") || videoTypes.contains(type) else {
                throw ServiceError.unsupportedMediaType(
                    "send the video as multipart/form-data (field video) or as a raw body with a video/* or application/octet-stream type (or none), not '\(type)'")
            }
            bytes = body
            options = RequestOptions(query: request.head.query)
        }
        guard !bytes.isEmpty else { throw ServiceError.malformedBody("the video is empty") }
        return (bytes, options)
    }

    static let videoFields: Set<String> = ["video", "file", "data"]

    /// Body types taken as a video besides video/*: none at all (RFC 9110 section 8.3 lets a recipient assume
    /// application/octet-stream, and Python's requests, curl -T and fetch with a buffer send none); the form type
    /// `curl --data-binary @clip.mp4` and Ruby's Net::HTTP put on any raw body (a real form's text is no container,
    /// and the decoder refuses it with 415); and the registered types of accepted containers that are not video/*.
    static let videoTypes: Set<String> = ["", "application/octet-stream", "application/x-www-form-urlencoded",
                                          "application/mp4", "application/ogg", "application/vnd.ms-asf",
                                          "application/x-matroska", "application/mxf", "image/gif"]
}
