import VideoDecode

/// Everything a decode worker is started with, passed as its arguments; its descriptors are fixed: 3 is its
/// socket, 4 the upload region and 5 the clip region (both memfds).
public struct WorkerConfiguration: Equatable, Sendable {
    /// The upload region's size: the largest upload the server accepts.
    public var inputBytes: Int
    /// The clip region's size: the most clips a request may ask for.
    public var maxClips: Int
    public var limits: DecodeLimits
    /// RLIMIT_AS: a decode that needs more dies, and the server reports it.
    public var memoryBytes: Int = 2 << 30
    /// CPU seconds one request may use for each `DecodeLimits.clipsPerBudget` clips, and a walk for each chunk
    /// (RLIMIT_CPU, moved on before each).
    public var cpuSecondsPerRequest: Int = 10
    /// Lets an upload that starts with `WorkerFaults.marker` make the worker crash, hang, exhaust memory or
    /// break a sandbox rule. Only tests turn it on.
    public var testFaults = false

    public init(inputBytes: Int, maxClips: Int, limits: DecodeLimits) {
        self.inputBytes = inputBytes
        self.maxClips = maxClips
        self.limits = limits
    }

    /// Starts one worker with this configuration and stops it: proves workers can run here.
    /// - Throws: `WorkerStartError` saying why not.
    public func probe(executable: String = "/proc/self/exe") throws {
        _ = try WorkerProcess(executable: executable, configuration: self).stop()
    }

    var outputBytes: Int { maxClips * ClipSpec.kinetics.elementCount * MemoryLayout<Float>.size }

    static let socketDescriptor: Int32 = 3, inputDescriptor: Int32 = 4, outputDescriptor: Int32 = 5

    var arguments: [String] {
        ["--input-bytes=\(inputBytes)", "--max-clips=\(maxClips)", "--max-dimension=\(limits.maxDimension)",
         "--max-duration=\(limits.maxDurationSeconds)", "--max-frames=\(limits.maxDecodedFrames)",
         "--deadline=\(limits.deadlineSeconds)", "--memory-bytes=\(memoryBytes)", "--cpu-seconds=\(cpuSecondsPerRequest)"]
            + (testFaults ? ["--test-faults"] : [])
    }

    /// - Returns: nil when an argument is missing or malformed.
    init?(arguments: [String]) {
        var values: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            values[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        guard let input = values["--input-bytes"].flatMap(Int.init), let clips = values["--max-clips"].flatMap(Int.init),
              let dimension = values["--max-dimension"].flatMap(Int.init), let duration = values["--max-duration"].flatMap(Double.init),
              let frames = values["--max-frames"].flatMap(Int.init), let deadline = values["--deadline"].flatMap(Double.init),
              let memory = values["--memory-bytes"].flatMap(Int.init), let cpu = values["--cpu-seconds"].flatMap(Int.init),
              input > 0, clips > 0
        else { return nil }
        var limits = DecodeLimits()
        limits.maxDimension = dimension
        limits.maxDurationSeconds = duration
        limits.maxDecodedFrames = frames
        limits.deadlineSeconds = deadline
        limits.decoderThreads = 1
        self.init(inputBytes: input, maxClips: clips, limits: limits)
        memoryBytes = memory
        cpuSecondsPerRequest = cpu
        testFaults = values["--test-faults"] != nil
    }
}

/// What a test can make a worker do, by starting an upload with `marker` and the fault's name.
public enum WorkerFault: String, CaseIterable, Sendable {
    case crash, hang, exhaustMemory = "oom"
    /// A file the sandbox refuses to open: the worker carries on.
    case openFile = "open"
    /// Each a system call the sandbox kills the worker for.
    case newSocket = "socket", connect, execute = "exec", fork

    public static let marker = "R2PLUS1D-TEST-FAULT:"

    /// An upload that asks for this fault.
    public var upload: [UInt8] { Array((Self.marker + rawValue).utf8) }
}
