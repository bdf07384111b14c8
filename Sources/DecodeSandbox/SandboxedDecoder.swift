import Foundation
import Glibc
import Synchronization
import VideoDecode

/// Decodes uploads in a sandboxed worker process, one upload at a time; one per decoding thread.
///
/// The upload is copied into the worker's input region, the clips come back in its output region, and a
/// reply on the socket says what is there. A worker that crashes, breaks a sandbox rule, passes its deadline
/// or sends a reply that does not check out is killed and replaced; that upload fails with a `DecodeError`
/// and nothing else is touched. Workers are recycled after `maxRequests` requests or past `maxResidentBytes`.
public final class SandboxedDecoder {
    /// What every decoder of a server shares: uploads that killed workers, and where restarts are counted.
    public final class Shared: Sendable {
        private let registry = Mutex(CrashRegistry())
        let onRestart: @Sendable (String) -> Void

        /// - Parameter onRestart: called with the reason (`WorkerLifecycle.Restart`'s raw value) of each restart.
        public init(onRestart: @escaping @Sendable (String) -> Void = { _ in }) {
            self.onRestart = onRestart
        }

        func isRefused(_ bytes: UnsafeRawBufferPointer) -> Bool { registry.withLock { $0.isRefused(bytes) } }
        func recordDeath(_ bytes: UnsafeRawBufferPointer, outOfMemory: Bool) {
            registry.withLock { $0.recordDeath(bytes, outOfMemory: outOfMemory) }
        }
    }

    public let configuration: WorkerConfiguration
    private let executable: String
    private let shared: Shared
    private var lifecycle: WorkerLifecycle
    private var worker: WorkerProcess?
    private var sequence: UInt64 = 0
    /// Beyond the worker's own decode deadline, before the server kills it.
    static let graceSeconds = 1.0

    public init(configuration: WorkerConfiguration, shared: Shared, maxRequests: Int = 1000, maxResidentBytes: Int = 1 << 30,
                executable: String = "/proc/self/exe") {
        self.configuration = configuration
        self.shared = shared
        self.executable = executable
        lifecycle = WorkerLifecycle(maxRequests: maxRequests, maxResidentBytes: maxResidentBytes)
    }

    /// The last upload's time spent outside the worker's own decode: copies, messages, checks (for benchmarks).
    public private(set) var lastOverheadSeconds: Double?

    /// The worker's pid, once one runs.
    public var workerPID: pid_t? { worker?.pid }

    /// Starts a worker if none runs, so the next upload does not wait for one.
    /// - Throws: `WorkerStartError`.
    public func prepare() throws {
        guard worker == nil else { return }
        do {
            worker = try WorkerProcess(executable: executable, configuration: configuration)
        } catch where error.outOfMemory {
            // Killed as it started, while idle or for an upload alike: counted as any worker killed for memory.
            shared.onRestart(WorkerLifecycle.Restart.outOfMemory.rawValue)
            throw error
        }
    }

    /// Stops the worker (it exits when its socket closes) and reaps it.
    public func stop() {
        _ = worker?.stop()
        worker = nil
    }

    /// - Throws: `DecodeError`: the worker's own for a bad video, `.decoderFailed` when the worker died on it,
    ///   `.deadlineExceeded` when it did not answer in time, `.internalFailure` when no worker can be started.
    public func decode(_ bytes: Data, clips: Int, range: ClosedRange<Double>? = nil) throws -> DecodedClips {
        precondition((1...configuration.maxClips).contains(clips))
        let worker = try handOver(bytes)
        let began = DispatchTime.now().uptimeNanoseconds
        lastOverheadSeconds = nil
        let request = WorkerWire.Request(sequence: sequence, videoBytes: bytes.count, clips: clips, range: range)
        let answer = worker.send(WorkerWire.encode(request))
            ? worker.receive(within: configuration.limits.scaled(forClips: clips).deadlineSeconds + Self.graceSeconds) : .gone
        switch answer {
        case .message(let message):
            let reply = try checked(worker) {
                try WorkerWire.decodeReply(message, for: request, maxDimension: configuration.limits.maxDimension)
            }
            switch reply {
            case .failed(let error):
                answered(worker)
                throw error
            case .decoded(let decoded):
                let values = try clipValues(worker, clips: clips)
                answered(worker)
                lastOverheadSeconds = max(0, Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 - decoded.decodeSeconds)
                return DecodedClips(values: values, clipCount: clips, info: decoded.info, frameTimes: decoded.frameTimes,
                                    spans: decoded.spans, decodedFrames: decoded.decodedFrames)
            }
        case .timedOut, .gone:
            throw lost(worker, answer, bytes)
        }
    }

    /// A timeline's decode: every window of `grid`, walking the video forward once in the worker, `chunk`
    /// windows at a time. The worker decodes the next chunk while `body` uses this one, so memory holds two
    /// chunks at most whatever the video's length; each chunk has the whole deadline to itself.
    /// - Parameter body: gets each chunk; returning false (or throwing) stops the walk.
    /// - Returns: the video's metadata.
    /// - Throws: `DecodeError` as `decode` does, `.nothingDecodable` when no window starts before the video's
    ///   end; what `body` throws.
    public func walk(_ bytes: Data, grid: WindowGrid, chunk: Int, body: (DecodedClips) throws -> Bool) throws -> VideoInfo {
        precondition((1...configuration.maxClips).contains(chunk))
        let worker = try handOver(bytes)
        let walk = WorkerWire.WalkRequest(sequence: sequence, videoBytes: bytes.count, chunk: chunk, grid: grid)
        guard worker.send(WorkerWire.encode(walk)) else { throw lost(worker, .gone, bytes) }
        var info: VideoInfo?
        /// Once `body` says stop or throws, later chunks are answered "stop" until the walk ends.
        enum Stop { case no, asked, failed(Error) }
        var stop = Stop.no
        while true {
            let answer = worker.receive(within: configuration.limits.deadlineSeconds + Self.graceSeconds)
            guard case .message(let message) = answer else { throw lost(worker, answer, bytes) }
            let reply = try checked(worker) {
                try WorkerWire.decodeWalkReply(message, for: walk, maxDimension: configuration.limits.maxDimension)
            }
            switch reply {
            case .failed(let error):
                answered(worker)
                if case .failed(let error) = stop { throw error }
                throw error
            case .end:
                answered(worker)
                if case .failed(let error) = stop { throw error }
                guard let info else {
                    replace(worker, .protocolViolation)
                    throw DecodeError.decoderFailed(detail: "it ended a walk without a window")
                }
                return info
            case .chunk(let decoded):
                if case .no = stop {} else {
                    guard worker.send(WorkerWire.encodeGoOn(sequence: walk.sequence, more: false)) else { throw lost(worker, .gone, bytes) }
                    continue
                }
                let values = try clipValues(worker, clips: decoded.clips)
                // The values are copied out: the worker may decode the next chunk while this one is used.
                guard worker.send(WorkerWire.encodeGoOn(sequence: walk.sequence, more: true)) else { throw lost(worker, .gone, bytes) }
                info = decoded.info
                let clips = DecodedClips(values: values, clipCount: decoded.clips, info: decoded.info, frameTimes: decoded.frameTimes,
                                         spans: decoded.spans, decodedFrames: decoded.decodedFrames)
                do {
                    if try !body(clips) { stop = .asked }
                } catch {
                    stop = .failed(error)
                }
            }
        }
    }

    /// Reads a reply; one that fails its checks kills the worker that sent it.
    private func checked<T>(_ worker: WorkerProcess, _ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch {
            replace(worker, .protocolViolation)
            throw DecodeError.decoderFailed(detail: "it sent a malformed reply")
        }
    }

    /// The clips a reply announced, copied out of the worker's output region; a value that is not a number kills
    /// the worker.
    private func clipValues(_ worker: WorkerProcess, clips: Int) throws -> [Float] {
        let values = Array(UnsafeBufferPointer(start: worker.output.baseAddress!.assumingMemoryBound(to: Float.self),
                                               count: clips * ClipSpec.kinetics.elementCount))
        guard Self.allFinite(values) else {
            replace(worker, .protocolViolation)
            throw DecodeError.decoderFailed(detail: "it produced values that are not numbers")
        }
        return values
    }

    /// The checks every upload passes, then a live worker with the upload in its input region and a new sequence.
    private func handOver(_ bytes: Data) throws -> WorkerProcess {
        guard !bytes.isEmpty else { throw DecodeError.emptyInput }
        guard bytes.count <= configuration.inputBytes else {
            throw DecodeError.internalFailure(detail: "the upload is larger than the decoder's region")
        }
        if bytes.withUnsafeBytes({ shared.isRefused($0) }) {
            throw DecodeError.decoderFailed(
                detail: "the same file killed the decoder before, or needed more memory than the server had, so it is not decoded again")
        }
        // A worker killed while idle must not cost this upload.
        if let idle = worker, idle.hasExited {
            replace(idle, WorkerLifecycle.reason(waitStatus: idle.waitForExit(), killedByServer: false, deadlinePassed: false))
        }
        do {
            try prepare()
        } catch {
            let start = error as? WorkerStartError
            if start?.outOfMemory == true { throw DecodeError.outOfMemory }
            if let shortage = start?.shortage { throw DecodeError.serverShortage(of: shortage) }
            throw DecodeError.internalFailure(detail: "no decode worker could be started")
        }
        let worker = worker!
        bytes.withUnsafeBytes { worker.input.copyMemory(from: $0) }
        sequence += 1
        return worker
    }

    /// The worker did not answer in time, or died: it is replaced, and the upload fails saying which.
    private func lost(_ worker: WorkerProcess, _ answer: WorkerProcess.Receive, _ bytes: Data) -> DecodeError {
        if case .timedOut = answer {
            worker.kill()
            replace(worker, .deadline)
            return DecodeError.deadlineExceeded(seconds: configuration.limits.deadlineSeconds)
        }
        let status = worker.waitForExit()
        let reason = WorkerLifecycle.reason(waitStatus: status, killedByServer: worker.killedByServer, deadlinePassed: false)
        replace(worker, reason)
        bytes.withUnsafeBytes { shared.recordDeath($0, outOfMemory: reason == .outOfMemory) }
        return reason == .outOfMemory ? DecodeError.outOfMemory : DecodeError.decoderFailed(detail: Self.words(reason))
    }

    private func answered(_ worker: WorkerProcess) {
        if let recycle = lifecycle.answered(residentBytes: worker.residentBytes) { replace(worker, recycle) }
    }

    private func replace(_ worker: WorkerProcess, _ reason: WorkerLifecycle.Restart) {
        switch reason {
        case .recycledRequests, .recycledMemory: _ = worker.stop()
        default: worker.kill()
        }
        self.worker = nil
        lifecycle = WorkerLifecycle(maxRequests: lifecycle.maxRequests, maxResidentBytes: lifecycle.maxResidentBytes)
        shared.onRestart(reason.rawValue)
    }

    /// Whether no value is NaN or infinite. A NaN or an infinity makes the sum non-finite, and a clip's values
    /// (normalised pixels, a few units at most) never overflow it; a sum runs at vector speed, a test per value
    /// does not.
    static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            var sums = SIMD16<Float>()
            let vectors = buffer.count / 16
            buffer.baseAddress!.withMemoryRebound(to: SIMD16<Float>.self, capacity: vectors) { v in
                for i in 0..<vectors { sums += v[i] }
            }
            var total = sums.sum()
            for i in (vectors * 16)..<buffer.count { total += buffer[i] }
            return total.isFinite
        }
    }

    static func words(_ reason: WorkerLifecycle.Restart) -> String {
        switch reason {
        case .crash: "it crashed or reached its memory limit"
        case .outOfMemory: "it was killed when the server's memory ran out"
        case .sandbox: "it tried a system call its sandbox forbids"
        case .cpu: "it ran out of CPU time"
        case .deadline: "it did not finish in time"
        case .protocolViolation, .recycledRequests, .recycledMemory: "it stopped answering"
        }
    }
}
