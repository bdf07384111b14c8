import Cores
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
    public var blasThreads = Cores.available
    /// Threads decoding uploads, and how many uploads may wait for one.
    public var decodeThreads = Cores.available
    public var decodeQueue = 16
    public var decodeLimits = DecodeLimits()
    /// Decode uploads in sandboxed worker processes (one per decode thread); false decodes in this process.
    public var decodeInWorkers = true
    /// A worker is replaced after this many uploads, or once its resident memory passes `workerMaxResidentBytes`.
    public var workerMaxRequests = 1000
    public var workerMaxResidentBytes = 1 << 30
    /// A worker's address-space limit: a decode that needs more dies, costing only its own request.
    public var workerMemoryBytes = 2 << 30
    /// The executable that runs `decode-worker`: this one, unless the process is not r2plus1d (a test runner).
    public var workerExecutable = "/proc/self/exe"
    /// Lets uploads that start with `WorkerFault.marker` crash or hang a worker. Tests only.
    public var workerTestFaults = false
    /// From a request's arrival to its answer; past it, 504.
    public var requestTimeoutSeconds = 30.0
    public var maxClips = 10
    /// Serve the browser page at `/` (`serve --no-ui` turns it off).
    public var webUI = true
    /// Bearer tokens, one a line, re-read on SIGHUP; nil: no authentication.
    public var authTokenFile: String?
    /// With tokens, whether /metrics needs one too.
    public var protectMetrics = true
    /// Pages on which other origins may call the API from a browser; nil: none (the page at / needs no CORS).
    public var cors: CORSPolicy?
    /// Async jobs: where they are kept ("memory", or "redis://host:port[/db]" to share them between pods).
    public var jobsStore = "memory"
    public var jobs = JobSettings()

    public init(weights: WeightsSource, labelsPath: String? = nil) {
        self.weights = weights
        self.labelsPath = labelsPath
    }
}
