/// Why a video could not be turned into clips. Each case maps to one HTTP status in the service.
public enum DecodeError: Error, Equatable, CustomStringConvertible {
    /// The upload has no bytes.
    case emptyInput
    /// Not a container on the whitelist (or not a video file at all).
    case unsupportedContainer(detail: String)
    /// A container without a video stream, or with one in a codec that is not accepted.
    case noVideoStream(detail: String)
    /// A video stream from which no frame could be decoded.
    case nothingDecodable(detail: String)
    case dimensionsTooLarge(width: Int, height: Int, limit: Int)
    case tooLong(seconds: Double, limit: Double)
    case tooManyFrames(limit: Int)
    /// Decoding took longer than the wall-clock budget.
    case deadlineExceeded(seconds: Double)
    /// FFmpeg failed in a way the input does not explain (out of memory, say).
    case internalFailure(detail: String)

    public var description: String {
        switch self {
        case .emptyInput: "the upload is empty"
        case .unsupportedContainer(let d): "not a video container this service accepts (\(d)); send mp4, mov, mkv, webm, avi, ts, flv, ogg or gif"
        case .noVideoStream(let d): "the file has no usable video stream (\(d))"
        case .nothingDecodable(let d): "no frame of the video could be decoded (\(d))"
        case .dimensionsTooLarge(let w, let h, let limit): "the video is \(w)x\(h); at most \(limit)x\(limit) is accepted"
        case .tooLong(let s, let limit): "the video lasts \(Int(s)) s; at most \(Int(limit)) s is accepted"
        case .tooManyFrames(let limit): "decoding needed more than \(limit) frames; send a shorter or lower-frame-rate video"
        case .deadlineExceeded(let s): "decoding took longer than \(s) s; send a smaller video"
        case .internalFailure(let d): "decoding failed: \(d)"
        }
    }
}
