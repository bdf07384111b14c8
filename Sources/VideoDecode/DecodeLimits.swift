/// Bounds on the work one upload may cause.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest width and height, checked on the container's claim and on every frame.
    public var maxDimension = 4096
    /// Longest duration the container may claim, in seconds.
    public var maxDurationSeconds = 3600.0
    /// Most frames decoded for each `clipsPerBudget` clips of a request.
    public var maxDecodedFrames = 5000
    /// Wall-clock budget for each `clipsPerBudget` clips of a request's decode, enforced in the read callback and
    /// between packets.
    public var deadlineSeconds = 5.0
    /// Threads per video. 1: everything on the caller's thread (the service's decode workers, which run side by
    /// side). 0 (one per core) or more: that many frame threads, frames converted on a thread of their own, and
    /// stretches that each begin with a seek decoded in parallel.
    public var decoderThreads = 1

    public init() {}

    public static let `default` = DecodeLimits()

    /// Clips that share one deadline and frame budget, as one chunk of a timeline's windows does: a request for
    /// more gets a budget for each this many (10 clips of a 30-second 4K HEVC video took 6.2 s on one thread).
    public static let clipsPerBudget = 8

    /// How many budgets a request of `clips` clips gets.
    public static func budgets(forClips clips: Int) -> Int {
        max(1, (clips + clipsPerBudget - 1) / clipsPerBudget)
    }

    /// These limits for a request of `clips` clips: the deadline and frame budget times `budgets(forClips:)`.
    public func scaled(forClips clips: Int) -> DecodeLimits {
        var limits = self
        let budgets = Self.budgets(forClips: clips)
        limits.deadlineSeconds *= Double(budgets)
        limits.maxDecodedFrames *= budgets
        return limits
    }

    /// For a process decoding one video at a time (`classify`, `preprocess`): every core on it.
    public static let allCores = { var limits = DecodeLimits(); limits.decoderThreads = 0; return limits }()
}
