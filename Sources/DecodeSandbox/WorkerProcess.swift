import CLinux
import Foundation
import Glibc

/// One running decode worker, seen from the server: its pid, its socket, and the two shared regions.
/// Owned by one thread, which sends it one request at a time.
final class WorkerProcess {
    let pid: pid_t
    private let socket: Int32
    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    private(set) var killedByServer = false
    private var reaped: Int32?
    /// /proc/PID/statm, kept open so reading the worker's size after each upload opens nothing.
    private let statm: Int32
    /// One reply at most, reused for every message.
    private var buffer = [UInt8](repeating: 0, count: WorkerWire.maxMessageBytes)

    /// Starts `executable decode-worker ...` with descriptors 3, 4 and 5 and nothing else.
    /// - Throws: `WorkerStartError` when a descriptor, a mapping or the spawn fails.
    init(executable: String, configuration: WorkerConfiguration) throws(WorkerStartError) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw WorkerStartError("socketpair", errno)
        }
        let inputFD = clinux_memfd_create("r2plus1d-upload")
        let outputFD = clinux_memfd_create("r2plus1d-clips")
        // The worker's ends: closed once it has them, so its death shows here as the socket's end.
        var workerEnds = [pair[1], inputFD, outputFD]
        defer { workerEnds.filter { $0 >= 0 }.forEach { close($0) } }
        guard inputFD >= 0, outputFD >= 0, ftruncate(inputFD, off_t(configuration.inputBytes)) == 0,
              ftruncate(outputFD, off_t(configuration.outputBytes)) == 0
        else {
            close(pair[0])
            throw WorkerStartError("memfd", errno)
        }
        guard let input = Self.map(inputFD, configuration.inputBytes), let output = Self.map(outputFD, configuration.outputBytes) else {
            close(pair[0])
            throw WorkerStartError("mmap", errno)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pair[1], WorkerConfiguration.socketDescriptor)
        posix_spawn_file_actions_adddup2(&actions, inputFD, WorkerConfiguration.inputDescriptor)
        posix_spawn_file_actions_adddup2(&actions, outputFD, WorkerConfiguration.outputDescriptor)
        let arguments = [executable, "decode-worker"] + configuration.arguments
        var environment = ProcessInfo.processInfo.environment
        environment["R2PLUS1D_DECODE_WORKER_PARENT"] = "\(getpid())"
        environment["OPENBLAS_NUM_THREADS"] = "1"  // the worker never runs BLAS; no idle pool
        environment["SWIFT_BACKTRACE"] = "enable=no"  // a crash is reported by the server, not symbolicated here
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            close(pair[0])
            munmap(input.baseAddress, input.count)
            munmap(output.baseAddress, output.count)
            throw WorkerStartError("posix_spawn", spawned)
        }
        workerEnds.filter { $0 >= 0 }.forEach { close($0) }
        workerEnds = []
        self.pid = pid
        statm = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        socket = pair[0]
        self.input = input
        self.output = output
        let said = receive(within: Self.startSeconds)
        guard case .message(let hello) = said, hello == WorkerWire.hello else {
            // A worker that died before its hello closed its socket on the way out.
            let died: Int32? = if case .gone = said { waitForExit() } else { nil }
            kill()
            throw WorkerStartError(diedWith: died)
        }
    }

    /// How long a new worker may take to load and sandbox itself.
    static let startSeconds = 10.0

    deinit {
        close(socket)
        if statm >= 0 { close(statm) }
        if reaped == nil {
            Glibc.kill(pid, SIGKILL)
            _ = waitForExit()
        }
        munmap(input.baseAddress, input.count)
        munmap(output.baseAddress, output.count)
    }

    private static func map(_ fd: Int32, _ bytes: Int) -> UnsafeMutableRawBufferPointer? {
        let pointer = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let pointer, pointer != MAP_FAILED else { return nil }
        return UnsafeMutableRawBufferPointer(start: pointer, count: bytes)
    }

    /// - Returns: false if the worker is gone.
    func send(_ message: [UInt8]) -> Bool {
        message.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == message.count
    }

    enum Receive {
        case message([UInt8])
        /// The socket closed or broke: the worker died.
        case gone
        case timedOut
    }

    /// Waits up to `seconds` for the worker's next message.
    func receive(within seconds: Double) -> Receive {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9)
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { return .timedOut }
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(Double(Int32.max), Double(deadline - now) / 1e6).rounded(.up)))
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 { continue }
            let n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_TRUNC)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0, n <= buffer.count else { return .gone }
            return .message(Array(buffer[0..<n]))
        }
    }

    /// Kills the worker (a deadline passed, or it broke the protocol) and reaps it.
    /// - Returns: its wait status.
    @discardableResult
    func kill() -> Int32 {
        if reaped == nil {
            killedByServer = true
            Glibc.kill(pid, SIGKILL)
        }
        return waitForExit()
    }

    /// Asks the worker to exit by closing its socket, and reaps it; kills it if it does not go within a second.
    func stop() -> Int32 {
        shutdown(socket, Int32(SHUT_RDWR))
        for _ in 0..<100 where reaped == nil {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = status } else { usleep(10_000) }
        }
        return kill()
    }

    /// Whether the worker has exited (it may have been killed while idle); reaps it if so.
    var hasExited: Bool {
        if reaped != nil { return true }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return false }
        reaped = status
        return true
    }

    /// Blocks until the worker has exited. - Returns: its wait status.
    func waitForExit() -> Int32 {
        if let reaped { return reaped }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = status
        return status
    }

    /// Resident memory now, from /proc; nil once it has exited.
    var residentBytes: Int? {
        guard reaped == nil, statm >= 0 else { return nil }
        var line = [UInt8](repeating: 0, count: 128)
        let n = line.withUnsafeMutableBytes { pread(statm, $0.baseAddress, $0.count, 0) }
        guard n > 0, let pages = String(decoding: line[0..<n], as: UTF8.self).split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// A worker could not be started: the system call and its errno.
public struct WorkerStartError: Error, CustomStringConvertible {
    public let description: String

    /// Whether the worker was killed from outside before it could start: the server's memory ran out.
    public let outOfMemory: Bool
    /// What the server ran short of, when that is why: "file descriptors", or "processes" (a pids cgroup or
    /// RLIMIT_NPROC).
    public let shortage: String?

    init(_ call: String, _ code: Int32) {
        description = "cannot start a decode worker: \(call): \(String(cString: strerror(code)))"
        outOfMemory = false
        switch code {
        case EMFILE, ENFILE: shortage = "file descriptors"
        case EAGAIN where call == "posix_spawn": shortage = "processes"
        default: shortage = nil
        }
    }

    /// A worker that did not say hello: it died with wait status `status`, or (nil) was silent until killed.
    init(diedWith status: Int32?) {
        shortage = nil
        outOfMemory = status.map {
            WorkerLifecycle.reason(waitStatus: $0, killedByServer: false, deadlinePassed: false) == .outOfMemory
        } ?? false
        description = outOfMemory
            ? "a decode worker was killed as it started: the server's memory ran out"
            : "a decode worker could not sandbox itself (seccomp and prctl must be allowed in this container); "
                + "serve with --decode-in-process to decode without workers"
    }
}
