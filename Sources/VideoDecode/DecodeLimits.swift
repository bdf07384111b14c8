/// Bounds on the work one upload may cause.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest width and height, checked on the container's claim and on every frame.
    public var maxDimension = 4096
    /// Longest duration the container may claim, in seconds.
    public var maxDurationSeconds = 3600.0
    /// Most frames decoded for one request (all clips together).
    public var maxDecodedFrames = 5000
    /// Wall-clock budget for the whole decode, enforced in the read callback and between packets.
    public var deadlineSeconds = 5.0
    /// Threads per video. 1: everything on the caller's thread (the service's decode workers, which run side by
    /// side). 0 (one per core) or more: that many frame threads, frames converted on a thread of their own, and
    /// stretches that each begin with a seek decoded in parallel.
    public var decoderThreads = 1

    public init() {}

    public static let `default` = DecodeLimits()

    /// For a process decoding one video at a time (`classify`, `preprocess`): every core on it.
    public static let allCores = { var limits = DecodeLimits(); limits.decoderThreads = 0; return limits }()
}
