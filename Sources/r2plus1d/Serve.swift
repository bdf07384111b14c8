import ArgumentParser
import CLinux
import Cores
import DecodeSandbox
import Foundation
import HTTPServer
import Logging
import R2Plus1D
import Service

/// Reads an option's default from the environment (`R2PLUS1D_PORT` for `--port`, ...).
func environment<T: LosslessStringConvertible>(_ name: String, _ fallback: T) -> T {
    ProcessInfo.processInfo.environment["R2PLUS1D_\(name)"].flatMap(T.init) ?? fallback
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the classifier over HTTP: POST /classify, GET /labels, /healthz, /readyz, /v1/model, /metrics; KServe v2 and v1 under /v2 and /v1/models.",
        discussion: "Every option can also be set by an environment variable: R2PLUS1D_ and the option's name in capitals with _ for - (R2PLUS1D_PORT, R2PLUS1D_MAX_BATCH, ...).")

    @OptionGroup var weights: WeightsOptions
    @Option var host = environment("HOST", "0.0.0.0")
    @Option var port = environment("PORT", 8080)
    @Option(help: "Most clips per forward pass.") var maxBatch = environment("MAX_BATCH", 8)
    @Option(help: "Longest wait for more clips once a worker holds one (only while other requests are decoding).") var maxDelayMs = environment("MAX_DELAY_MS", 10.0)
    @Option(help: "Batch workers (each runs forward passes).") var workers = environment("WORKERS", 1)
    @OptionGroup var blas: BLASOptions
    @Option(help: "Threads each batch worker runs its forward passes on (default: the cores available).") var threads = environment("THREADS", Self.defaults.blasThreads)
    @Option(help: "Decode threads (default: the cores available).") var decodeThreads = environment("DECODE_THREADS", Self.defaults.decodeThreads)
    @Flag(help: "Decode uploads in this process instead of sandboxed worker processes (for comparisons). Env R2PLUS1D_DECODE_IN_PROCESS=1.")
    var decodeInProcess = environment("DECODE_IN_PROCESS", 0) == 1
    @Option(help: "Uploads a decode worker serves before it is replaced.")
    var decodeWorkerRequests = environment("DECODE_WORKER_REQUESTS", Self.defaults.workerMaxRequests)
    @Option(help: "A decode worker's address-space limit in MiB; a decode that needs more costs only its own request.")
    var decodeWorkerMemoryMb = environment("DECODE_WORKER_MEMORY_MB", Self.defaults.workerMemoryBytes >> 20)
    @Flag(help: .hidden) var decodeWorkerTestFaults = false
    @Option(help: "Clips waiting at most; beyond it, 503.") var queueSize = environment("QUEUE_SIZE", 64)
    @Option(help: "Seconds from arrival to answer; beyond it, 504.") var timeoutS = environment("TIMEOUT_S", 30.0)
    @Option(help: "Largest upload in MiB; beyond it, 413.") var maxUploadMb = environment("MAX_UPLOAD_MB", 64)
    @Option(help: "Uploads held at once, all connections and live jobs together, in MiB (at least twice --max-upload-mb; coded bodies count as they decode); a request whose body would not fit gets 503.")
    var maxBufferedUploadMb = environment("MAX_BUFFERED_UPLOAD_MB", 512)
    @Option(help: "Most clips one request may ask for.") var maxClips = environment("MAX_CLIPS", 10)
    @Option(help: "Class names, one per line (default: the built-in Kinetics-400 names, for a 400-class model). Env R2PLUS1D_LABELS.")
    var labels: String?
    @Option(help: "PEM certificate chain: serve HTTPS. Env R2PLUS1D_TLS_CERT.") var tlsCert: String?
    @Option(help: "PEM private key for --tls-cert. Env R2PLUS1D_TLS_KEY.") var tlsKey: String?
    @Option(help: "On SIGTERM: seconds to keep serving with readiness 503 before closing the listener.")
    var drainDelayS = environment("DRAIN_DELAY_S", Self.defaults.http.drainDelaySeconds)
    @Option(help: "Then: seconds in-flight requests get to finish.") var drainTimeoutS = environment("DRAIN_TIMEOUT_S", Self.defaults.http.drainTimeoutSeconds)
    @Option(help: "Open connections at most; one more is answered 503.") var maxConnections = environment("MAX_CONNECTIONS", 512)
    @Option(help: "Seconds for the whole request head (and TLS handshake).") var headerTimeoutS = environment("HEADER_TIMEOUT_S", 10.0)
    @Option(help: "Seconds for the whole request body.") var bodyTimeoutS = environment("BODY_TIMEOUT_S", 120.0)
    @Option(help: "Slowest average body rate in bytes/s accepted after the first 10 s.")
    var minBodyRate = environment("MIN_BODY_RATE", 1024.0)
    @Option(help: "Seconds an idle keep-alive connection stays open.") var idleTimeoutS = environment("IDLE_TIMEOUT_S", 60.0)
    @Option(help: "Seconds a client may stop reading its response before it is dropped.")
    var writeTimeoutS = environment("WRITE_TIMEOUT_S", 30.0)
    @Flag(help: "Do not serve the browser page at /. Env R2PLUS1D_NO_UI=1.") var noUi = environment("NO_UI", 0) == 1
    @Option(help: "Bearer tokens, one a line, re-read on SIGHUP: every route but liveness and readiness then needs Authorization: Bearer <token>. Env R2PLUS1D_AUTH_TOKEN_FILE.")
    var authTokenFile: String?
    @Flag(help: "With --auth-token-file, leave /metrics open (for a scraper without a token). Env R2PLUS1D_METRICS_WITHOUT_AUTH=1.")
    var metricsWithoutAuth = false
    @Option(help: "Origins whose pages may call the API from a browser (CORS): * or comma-separated origins such as https://app.example.com. Env R2PLUS1D_CORS_ORIGINS.")
    var corsOrigins: String?
    @Option(help: "Where async jobs are kept: memory (this process), or redis://host:port[/db] to share them between replicas.")
    var jobsStore = environment("JOBS_STORE", "memory")
    @Option(help: "Queued and running jobs at most (across replicas sharing the store); beyond it, 503.")
    var maxJobs = environment("MAX_JOBS", Self.defaults.jobs.maxLiveJobs)
    @Option(help: "Seconds a finished job stays readable.") var jobRetentionS = environment("JOB_RETENTION_S", Self.defaults.jobs.retentionSeconds)
    @Option(help: "Seconds without a lease renewal after which a job reads as failed (its replica stopped).")
    var jobLeaseS = environment("JOB_LEASE_S", Self.defaults.jobs.leaseSeconds)
    @Option(help: "Jobs this replica runs at once; the rest of its jobs wait queued.")
    var jobConcurrency = environment("JOB_CONCURRENCY", Self.defaults.jobs.concurrency)
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = environment("LOG_LEVEL", "info")

    /// The library's defaults, which the options' defaults are.
    static let defaults = ServiceConfiguration(weights: .demo(seed: DemoWeights.defaultSeed))

    /// Options without a default take theirs from the environment here.
    mutating func validate() throws {
        let env = ProcessInfo.processInfo.environment
        labels = labels ?? env["R2PLUS1D_LABELS"]
        tlsCert = tlsCert ?? env["R2PLUS1D_TLS_CERT"]
        tlsKey = tlsKey ?? env["R2PLUS1D_TLS_KEY"]
        authTokenFile = authTokenFile ?? env["R2PLUS1D_AUTH_TOKEN_FILE"]
        // Blank is unset, as an empty variable in a manifest means.
        corsOrigins = (corsOrigins ?? env["R2PLUS1D_CORS_ORIGINS"]).flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        if let corsOrigins, CORSPolicy(parsing: corsOrigins) == nil {
            throw ValidationError("--cors-origins takes * or origins such as https://app.example.com (scheme, host and port; no path)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give --tls-cert and --tls-key together") }
        guard maxBatch >= 1, workers >= 1, decodeWorkerRequests >= 1, decodeWorkerMemoryMb >= 64, threads >= 1, decodeThreads >= 1, queueSize >= 1, maxClips >= 1, maxUploadMb >= 1, maxBufferedUploadMb >= 1,
              timeoutS > 0, maxDelayMs >= 0, maxConnections >= 1, headerTimeoutS > 0, bodyTimeoutS > 0, minBodyRate >= 0,
              idleTimeoutS > 0, writeTimeoutS > 0, drainDelayS >= 0, drainTimeoutS >= 0,
              maxJobs >= 1, jobRetentionS > 0, jobLeaseS >= 0.3, jobConcurrency >= 1 else {
            throw ValidationError("sizes, counts and timeouts must be positive")
        }
        // Sizes in MiB become bytes: past 2^24 MiB (16 TiB) they would wrap.
        guard [decodeWorkerMemoryMb, maxUploadMb, maxBufferedUploadMb].allSatisfy({ $0 <= 1 << 24 }) else {
            throw ValidationError("sizes in MiB must be at most \(1 << 24)")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "r2plus1d")
        var configuration = ServiceConfiguration(weights: try weights.requiredSource(), labelsPath: labels)
        configuration.http.host = host
        configuration.http.port = port
        configuration.http.limits.maxBodyBytes = maxUploadMb << 20
        configuration.http.maxBufferedBodyBytes = maxBufferedUploadMb << 20
        configuration.http.maxConnections = maxConnections
        configuration.http.headerTimeoutSeconds = headerTimeoutS
        configuration.http.bodyTimeoutSeconds = bodyTimeoutS
        configuration.http.minBodyBytesPerSecond = minBodyRate
        configuration.http.idleTimeoutSeconds = idleTimeoutS
        configuration.http.writeTimeoutSeconds = writeTimeoutS
        configuration.http.drainDelaySeconds = drainDelayS
        configuration.http.drainTimeoutSeconds = drainTimeoutS
        if let tlsCert, let tlsKey {
            configuration.http.tls = try TLSConfiguration(certificateChainPath: tlsCert, privateKeyPath: tlsKey)
        }
        configuration.batching.maxBatch = maxBatch
        configuration.batching.maxDelaySeconds = maxDelayMs / 1000
        configuration.batching.workers = workers
        configuration.batching.queueCapacity = queueSize
        configuration.blasThreads = threads
        configuration.decodeThreads = decodeThreads
        configuration.decodeInWorkers = !decodeInProcess
        configuration.workerMaxRequests = decodeWorkerRequests
        configuration.workerMemoryBytes = decodeWorkerMemoryMb << 20
        configuration.workerTestFaults = decodeWorkerTestFaults
        configuration.requestTimeoutSeconds = timeoutS
        configuration.maxClips = maxClips
        configuration.webUI = !noUi
        configuration.authTokenFile = authTokenFile
        configuration.cors = corsOrigins.flatMap(CORSPolicy.init(parsing:))
        // Read here: a flag whose default came from the environment could be true, which ArgumentParser refuses.
        configuration.protectMetrics = !(metricsWithoutAuth || environment("METRICS_WITHOUT_AUTH", 0) == 1)
        configuration.jobsStore = jobsStore
        configuration.jobs.maxLiveJobs = maxJobs
        configuration.jobs.retentionSeconds = jobRetentionS
        configuration.jobs.leaseSeconds = jobLeaseS
        configuration.jobs.concurrency = jobConcurrency
        let descriptorAdvice = configuration.fitConnections(toOpenFileLimit: OpenFileLimit.raise())
        let service: ClassificationService
        do {
            service = try ClassificationService(configuration: configuration, logger: logger)
        } catch let error as WeightError {
            throw ValidationError(error.description)
        } catch let error as LabelsError {
            throw ValidationError(error.description)
        } catch let error as WorkerStartError {
            throw ValidationError(error.description)
        } catch let error as AuthError {
            throw ValidationError(error.description)
        } catch let error as JobError {
            throw ValidationError(error.detail)
        }
        if service.model.demo {
            logger.warning("serving DEMO weights: predictions are meaningless; see weights/README.md for the real ones")
        }
        if let advice = configuration.memoryAdvice(limitBytes: Cores.memoryLimitBytes) { logger.warning("\(advice)") }
        if let advice = descriptorAdvice { logger.warning("\(advice)") }
        Self.trimHeapWhenIdle(service)
        service.run()
    }

    /// The executable keeps the engine's buffers in the heap while it works (R2Plus1DCommand.main), so a check
    /// every `seconds` that finds work done since the last trim and nothing in flight hands the free heap back:
    /// an idle server does not hold its busiest moment's memory. The first check returns what loading freed.
    static func trimHeapWhenIdle(_ service: ClassificationService, every seconds: Double = 2) {
        let thread = Thread {
            var trimmedAfter = -1
            while true {
                Thread.sleep(forTimeInterval: seconds)
                let activity = service.activity
                if activity.inFlight == 0 && activity.started != trimmedAfter {
                    malloc_trim(0)
                    trimmedAfter = activity.started
                }
            }
        }
        thread.name = "heap-trim"
        thread.start()
    }
}
