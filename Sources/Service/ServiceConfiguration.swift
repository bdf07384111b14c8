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

extension ServiceConfiguration {
    /// What the server keeps besides its decode workers: the model's weights and buffers (about 420 MiB idle), a
    /// full batch queue of clips, and the uploads it may hold. Saturating, as the options' sizes are the user's.
    var serverReserveBytes: Int {
        let queued = batching.queueCapacity.multipliedReportingOverflow(by: ClipSpec.kinetics.elementCount * 4)
        return [512 << 20, queued.overflow ? .max : queued.partialValue, http.bodyBudgetBytes].reduce(0) { sum, part in
            let (total, overflow) = sum.addingReportingOverflow(part)
            return overflow ? .max : total
        }
    }

    /// An idle worker maps about 384 MiB, of which about 45 are resident and about 87 are the regions it shares
    /// with the server (each the worker's own once touched); the rest, shared libraries and reservations, costs no
    /// memory. So a worker at its address-space limit holds about that limit less this much.
    static let workerSharedBytes = 256 << 20

    /// The smallest worker limit worth suggesting: a 10 s 4K H.264 upload with 10 clips peaks at 522 MiB of address space (534,136 kB).
    static let smallestWorkerMemoryBytes = 640 << 20

    /// A warning when decode workers at their address-space limit, with the server's own memory, could pass the
    /// container's memory limit, and what would fit; nil when they fit, no limit is set, or decoding runs in this
    /// process.
    public func memoryAdvice(limitBytes: Int?) -> String? {
        guard decodeInWorkers, let limitBytes else { return nil }
        let threads = max(1, decodeThreads)
        let own = { (limit: Int) in max(0, limit - Self.workerSharedBytes) }
        let room = limitBytes - min(limitBytes, serverReserveBytes)
        // Compared by division: the product of two user-given sizes may not fit an Int.
        guard own(workerMemoryBytes) > room / threads else { return nil }
        let mib = { (bytes: Int) in bytes >> 20 }
        let fits = (room / threads + Self.workerSharedBytes) / (64 << 20) * (64 << 20)
        let remedy: String
        if fits >= Self.smallestWorkerMemoryBytes {
            remedy = "set --decode-worker-memory-mb \(mib(fits)) or less"
        } else {
            let needed = serverReserveBytes > Int.max / 2 ? Int.max : serverReserveBytes + threads * own(Self.smallestWorkerMemoryBytes)
            remedy = "set --decode-worker-memory-mb \(mib(Self.smallestWorkerMemoryBytes)) and raise the limit to at least "
                + "\(mib(needed)) MiB, or lower --max-buffered-upload-mb or --decode-threads"
        }
        return "the memory limit (\(mib(limitBytes)) MiB) is below what these settings may use: \(threads) decode workers "
            + "of up to \(mib(workerMemoryBytes)) MiB, and about \(mib(serverReserveBytes)) MiB for the server (its model, "
            + "its queue and up to \(mib(http.bodyBudgetBytes)) MiB of uploads); the kernel may kill a decoding worker, or "
            + "the whole container where it kills containers whole (cgroup v2 Kubernetes nodes): \(remedy)"
    }
}

extension ServiceConfiguration {
    /// Descriptors the server holds besides its connections: about 16 of its own files and sockets with room for
    /// weights, TLS and Redis, and four for each decode worker (its socket, two shared regions, its memory reading),
    /// twice over while one is replaced. Saturating, as the thread count is the user's.
    var descriptorsBesidesConnections: Int {
        let workers = decodeInWorkers ? decodeThreads : 0
        return workers > (Int.max - 64) / 8 ? .max : 64 + 8 * workers
    }

    /// Lowers `http.maxConnections` to what the open-file limit leaves room for, so that a flood of connections
    /// cannot take the descriptors a decode worker needs to start.
    /// - Returns: a warning saying so and what to raise, nil when the connections fit or there is no limit.
    public mutating func fitConnections(toOpenFileLimit limit: Int?) -> String? {
        guard let limit else { return nil }
        let reserve = descriptorsBesidesConnections
        let room = max(1, limit - min(limit, reserve))
        guard http.maxConnections > room else { return nil }
        let asked = http.maxConnections
        http.maxConnections = room
        let needed = asked > .max - reserve ? Int.max : asked + reserve
        return "the open-file limit (\(limit)) leaves room for \(room) connections, not \(asked) (--max-connections): "
            + "more get 503; raise the limit to at least \(needed) (ulimit -n, or the container runtime's nofile)"
    }
}
