import Glibc

/// When a worker is replaced, and why: the decisions about one worker with no processes in them.
struct WorkerLifecycle {
    /// Why a worker was replaced, as the restart metric's `reason` label.
    enum Restart: String, CaseIterable {
        /// Killed by a signal of its own making (SIGSEGV, SIGABRT, ...): a crash, or its memory limit.
        case crash
        /// Killed with SIGKILL by someone other than the server: the kernel's out-of-memory killer, when the
        /// server's memory (a container's limit) runs out, since a worker offers itself first.
        case outOfMemory = "out_of_memory"
        /// Killed by its seccomp filter (SIGSYS): the video made it try a system call it may not make.
        case sandbox
        /// Past its request's deadline: killed by the server.
        case deadline
        /// Over its CPU limit (SIGXCPU).
        case cpu
        /// Sent a reply the server could not trust, or exited on its own: killed or reaped.
        case protocolViolation = "protocol"
        /// Served `maxRequests`.
        case recycledRequests = "recycled_requests"
        /// Grew past `maxResidentBytes`.
        case recycledMemory = "recycled_memory"
    }

    var maxRequests: Int
    var maxResidentBytes: Int
    private(set) var served = 0

    init(maxRequests: Int, maxResidentBytes: Int) {
        self.maxRequests = maxRequests
        self.maxResidentBytes = maxResidentBytes
    }

    /// A request was answered. - Returns: the reason to replace the worker now, if any.
    mutating func answered(residentBytes: Int?) -> Restart? {
        served += 1
        if served >= maxRequests { return .recycledRequests }
        if let residentBytes, residentBytes > maxResidentBytes { return .recycledMemory }
        return nil
    }

    /// Why a worker that stopped answering ended, from its wait status.
    static func reason(waitStatus status: Int32, killedByServer: Bool, deadlinePassed: Bool) -> Restart {
        if deadlinePassed { return .deadline }
        let signalled = status & 0x7f != 0 && status & 0x7f != 0x7f
        guard signalled else { return .protocolViolation }  // it exited: workers exit only when told to
        switch status & 0x7f {
        case SIGSYS: return .sandbox
        case SIGXCPU: return .cpu
        case SIGKILL: return killedByServer ? .protocolViolation : .outOfMemory
        default: return .crash
        }
    }
}

/// Uploads a worker died on, so the same content is refused at once instead of killing another worker.
///
/// An upload is known by its size and a hash of its bytes; the hash is computed only for uploads whose size
/// matches one that killed a worker, so an ordinary upload costs a dictionary lookup. Crashes and kills for the
/// server's lack of memory are counted apart: the kernel kills the largest decode, whoever caused the shortage,
/// so a memory kill says less of the upload and takes more of them.
struct CrashRegistry {
    /// Crashes on the same content after which it is no longer decoded.
    let threshold: Int
    /// Kills for memory on the same content after which it is no longer decoded.
    let memoryThreshold: Int
    let capacity: Int
    private struct Deaths { var crashes = 0, outOfMemory = 0 }
    private var deaths: [Int: [UInt64: Deaths]] = [:]
    private var order: [(size: Int, hash: UInt64)] = []

    init(threshold: Int = 2, memoryThreshold: Int = 3, capacity: Int = 1024) {
        self.threshold = threshold
        self.memoryThreshold = memoryThreshold
        self.capacity = capacity
    }

    /// FNV-1a over the bytes: a content key, not a defence (the attacker gains nothing by colliding).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// - Returns: true when this content has killed `threshold` workers, or had `memoryThreshold` killed for memory.
    func isRefused(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let sized = deaths[bytes.count], let known = sized[Self.hash(bytes)] else { return false }
        return known.crashes >= threshold || known.outOfMemory >= memoryThreshold
    }

    mutating func recordDeath(_ bytes: UnsafeRawBufferPointer, outOfMemory: Bool = false) {
        let hash = Self.hash(bytes)
        if deaths[bytes.count]?[hash] == nil {
            order.append((bytes.count, hash))
            if order.count > capacity {
                let oldest = order.removeFirst()
                deaths[oldest.size]?[oldest.hash] = nil
                if deaths[oldest.size]?.isEmpty == true { deaths[oldest.size] = nil }
            }
        }
        let count: WritableKeyPath<Deaths, Int> = outOfMemory ? \.outOfMemory : \.crashes
        deaths[bytes.count, default: [:]][hash, default: Deaths()][keyPath: count] += 1
    }
}
