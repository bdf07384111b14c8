/// Why a video could not be turned into clips: a kind, which the service maps to an HTTP status, and a message
/// that names the limit or the failure.
///
/// A struct rather than an enum, as swift-nio's errors are, so a new kind does not break callers: compare with
/// `==` against the static members, or switch over `kind` with a `default`.
public struct DecodeError: Error, Equatable, CustomStringConvertible {
    /// What kind of failure. New kinds may be added.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        init(_ name: String) { description = name }

        /// The upload has no bytes.
        public static let emptyInput = Kind("emptyInput")
        /// Not a container on the whitelist (or not a video file at all).
        public static let unsupportedContainer = Kind("unsupportedContainer")
        /// A container without a video stream, or with one in a codec that is not accepted.
        public static let noVideoStream = Kind("noVideoStream")
        /// A video stream from which no frame could be decoded, or an accepted container too damaged to open.
        public static let nothingDecodable = Kind("nothingDecodable")
        /// Over a limit of `DecodeLimits`: size, duration, frames or time.
        public static let overLimit = Kind("overLimit")
        /// FFmpeg failed in a way the input does not explain (out of memory, say).
        public static let internalFailure = Kind("internalFailure")
        /// The process decoding the video died on it: a crash, a broken sandbox rule, or its memory limit.
        public static let decoderFailed = Kind("decoderFailed")
        /// The process decoding the video was killed because the server's memory ran out: not the video's fault,
        /// worth retrying.
        public static let outOfMemory = Kind("outOfMemory")
        /// The server lacked something else it needs to decode now (file descriptors, processes): not the video's
        /// fault, worth retrying.
        public static let serverShortage = Kind("serverShortage")
    }

    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// An error another process reported by its kind's name and its message; an unknown kind becomes
    /// `internalFailure`, which says nothing of the message to a client. So do `outOfMemory` and `serverShortage`:
    /// only the server can tell what it ran out of.
    public init(kindNamed name: String, message: String) {
        let known: [Kind] = [.emptyInput, .unsupportedContainer, .noVideoStream, .nothingDecodable, .overLimit, .internalFailure,
                             .decoderFailed]
        self.init(known.first { $0.description == name } ?? .internalFailure, message)
    }

    public static let emptyInput = DecodeError(.emptyInput, "the upload is empty")

    public static func unsupportedContainer(detail: String) -> DecodeError {
        DecodeError(.unsupportedContainer,
                    "not a video container this service accepts (\(detail)); send mp4, mov, mkv, webm, avi, ts, flv, ogg, mxf, dv or gif")
    }

    public static func noVideoStream(detail: String) -> DecodeError {
        DecodeError(.noVideoStream, "the file has no usable video stream (\(detail))")
    }

    public static func nothingDecodable(detail: String) -> DecodeError {
        DecodeError(.nothingDecodable, "no frame of the video could be decoded (\(detail))")
    }

    /// Bytes FFmpeg takes for an accepted container (`format`, its long name) but cannot open.
    public static func damagedContainer(format: String, detail: String) -> DecodeError {
        DecodeError(.nothingDecodable, "the file looks like \(format), but is cut short or damaged (\(detail))")
    }

    /// An MP4 or QuickTime file without its index, which the demuxer needs to find any frame.
    public static let mp4WithoutIndex = DecodeError(
        .nothingDecodable, "the file is an MP4 without its moov box, the index a recorder writes when it stops: the recording or the upload was cut short")

    public static func dimensionsTooLarge(width: Int, height: Int, limit: Int) -> DecodeError {
        DecodeError(.overLimit, "the video is \(width)x\(height); at most \(limit)x\(limit) is accepted")
    }

    public static func tooLong(seconds: Double, limit: Double) -> DecodeError {
        DecodeError(.overLimit, "the video lasts \(Int(seconds)) s; at most \(Int(limit)) s is accepted")
    }

    public static func tooManyFrames(limit: Int) -> DecodeError {
        DecodeError(.overLimit, "decoding needed more than \(limit) frames; send a shorter or lower-frame-rate video")
    }

    /// Decoding took longer than the wall-clock budget.
    public static func deadlineExceeded(seconds: Double) -> DecodeError {
        DecodeError(.overLimit, "decoding took longer than \(seconds) s; send a smaller video")
    }

    /// An allocation failed while decoding: in a decode worker, its memory limit (`--decode-worker-memory-mb`).
    public static let needsTooMuchMemory = DecodeError(
        .overLimit, "decoding this video needs more memory than a decoder may use; send a smaller or lower-resolution video")

    public static let outOfMemory = DecodeError(
        .outOfMemory, "the server ran out of memory while decoding this video, and stopped that decode only; retry shortly")

    /// The server had no `resource` ("file descriptors", "processes") to spare for a decoder.
    public static func serverShortage(of resource: String) -> DecodeError {
        DecodeError(.serverShortage, "the server has no \(resource) to spare for a decoder; retry shortly")
    }

    /// The sandboxed decoder died on this video; `detail` says how, and never anything of the server.
    public static func decoderFailed(detail: String) -> DecodeError {
        DecodeError(.decoderFailed, "the decoder failed on this video (\(detail)); it may be corrupt or hostile")
    }

    public static func internalFailure(detail: String) -> DecodeError {
        DecodeError(.internalFailure, "decoding failed: \(detail)")
    }
}
