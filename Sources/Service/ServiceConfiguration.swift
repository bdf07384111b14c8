import Foundation
import HTTPServer
import R2Plus1D
import VideoDecode

/// Everything `r2plus1d serve` can be told.
public struct ServiceConfiguration: Sendable {
    public var weights: WeightsSource
    /// Class names, one a line; nil: the built-in Kinetics-400 names.
    public var labelsPath: String?
    public var http = HTTPServerConfiguration()
    public var batching = BatchScheduler.Settings()
    /// BLAS threads per batch worker.
    public var blasThreads = ProcessInfo.processInfo.activeProcessorCount
    /// Threads decoding uploads, and how many uploads may wait for one.
    public var decodeThreads = ProcessInfo.processInfo.activeProcessorCount
    public var decodeQueue = 16
    public var decodeLimits = DecodeLimits()
    /// From a request's arrival to its answer; past it, 504.
    public var requestTimeoutSeconds = 30.0
    public var maxClips = 10

    public init(weights: WeightsSource, labelsPath: String? = nil) {
        self.weights = weights
        self.labelsPath = labelsPath
    }
}
