import CLinux
import Foundation
import Glibc
import VideoDecode

/// The worker side: `r2plus1d decode-worker` runs this. It shuts itself in (no descriptors but its own, limits,
/// seccomp), then decodes one upload per request until its socket closes.
public enum DecodeWorker {
    /// Never returns: exits 0 when the server closes the socket, 2 when it cannot sandbox itself.
    public static func run(arguments: [String]) -> Never {
        // Die with the server, and do not outlive a server that died before this line.
        _ = clinux_set_parent_death_signal(SIGKILL)
        guard let parent = ProcessInfo.processInfo.environment["R2PLUS1D_DECODE_WORKER_PARENT"].flatMap(Int32.init),
              getppid() == parent,
              let configuration = WorkerConfiguration(arguments: arguments)
        else { exit(2) }
        _ = clinux_close_range(UInt32(WorkerConfiguration.outputDescriptor) + 1, UInt32.max)
        guard let input = map(WorkerConfiguration.inputDescriptor, bytes: configuration.inputBytes, writable: false),
              let output = map(WorkerConfiguration.outputDescriptor, bytes: configuration.outputBytes, writable: true)
        else { exit(2) }
        // Time zone data is read from a file on first use (FFmpeg formats container dates): read it now.
        tzset()
        offerToOutOfMemoryKiller()
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        var memory = rlimit(rlim_cur: rlim_t(configuration.memoryBytes), rlim_max: rlim_t(configuration.memoryBytes))
        var files = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(Int32(RLIMIT_CORE.rawValue), &noCore) == 0, setrlimit(Int32(RLIMIT_AS.rawValue), &memory) == 0, setrlimit(Int32(RLIMIT_FSIZE.rawValue), &files) == 0,
              SeccompFilter.install()
        else { exit(2) }
        // Tell the server the sandbox is up; it starts no worker that cannot say so.
        guard send(WorkerConfiguration.socketDescriptor, WorkerWire.hello, WorkerWire.hello.count, Int32(MSG_NOSIGNAL)) > 0 else { exit(2) }
        serve(configuration, input: input, output: output)
        exit(0)
    }

    /// When the server's memory runs out (a container's limit, say), the kernel kills the process it scores highest:
    /// a worker, so that one upload fails with a 503 and the server and every other request carry on. Raising one's
    /// own score needs no privilege; a kernel that refuses it leaves the worker as it was.
    private static func offerToOutOfMemoryKiller() {
        let fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = write(fd, "1000", 4)
        close(fd)
    }

    private static func map(_ fd: Int32, bytes: Int, writable: Bool) -> UnsafeMutableRawPointer? {
        let protection = writable ? PROT_READ | PROT_WRITE : PROT_READ
        let pointer = mmap(nil, bytes, protection, MAP_SHARED, fd, 0)
        close(fd)
        return pointer == MAP_FAILED ? nil : pointer
    }

    private static func serve(_ configuration: WorkerConfiguration, input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer) {
        let socket = WorkerConfiguration.socketDescriptor
        var message = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = message.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0, let any = try? WorkerWire.decodeAnyRequest(Array(message[0..<n])) else { return }
            let request: WorkerWire.Request
            switch any {
            case .decode(let decode): request = decode
            case .walk(let walk):
                guard walk.videoBytes <= configuration.inputBytes, walk.chunk <= configuration.maxClips,
                      serveWalk(walk, configuration, input: input, output: output)
                else { return }
                continue
            }
            guard request.videoBytes <= configuration.inputBytes, (1...configuration.maxClips).contains(request.clips) else { return }
            limitCPU(configuration.cpuSecondsPerRequest * DecodeLimits.budgets(forClips: request.clips))
            let bytes = Data(bytesNoCopy: input, count: request.videoBytes, deallocator: .none)
            if configuration.testFaults { injectFault(bytes) }
            let reply: WorkerWire.Reply
            do {
                let start = DispatchTime.now().uptimeNanoseconds
                let decoded = try ClipDecoder.decode(bytes, clips: request.clips, range: request.range,
                                                     limits: configuration.limits)
                decoded.values.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                reply = .decoded(WorkerWire.Decoded(info: decoded.info, clips: decoded.clipCount, decodedFrames: decoded.decodedFrames,
                                                    decodeSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                                    frameTimes: decoded.frameTimes, spans: decoded.spans))
            } catch let error as DecodeError {
                reply = .failed(error)
            } catch {
                reply = .failed(.internalFailure(detail: "unexpected error"))
            }
            let encoded = WorkerWire.encode(reply, sequence: request.sequence)
            guard encoded.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == encoded.count else { return }
        }
    }

    /// Sends a timeline's windows a chunk at a time, waiting after each for the server's word to go on: the
    /// server has then copied the chunk out of the shared region, so the next may overwrite it.
    /// - Returns: false when the server is gone or broke the protocol.
    private static func serveWalk(_ walk: WorkerWire.WalkRequest, _ configuration: WorkerConfiguration,
                                  input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer) -> Bool {
        struct ServerGone: Error {}
        let socket = WorkerConfiguration.socketDescriptor
        func send(_ bytes: [UInt8]) -> Bool {
            bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }
        let bytes = Data(bytesNoCopy: input, count: walk.videoBytes, deallocator: .none)
        if configuration.testFaults { injectFault(bytes) }
        limitCPU(configuration.cpuSecondsPerRequest)
        var chunkStart = DispatchTime.now().uptimeNanoseconds
        let reply: WorkerWire.WalkReply
        do {
            _ = try ClipDecoder.walk(bytes, grid: walk.grid, chunk: walk.chunk, limits: configuration.limits) { decoded in
                decoded.values.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                let chunk = WorkerWire.Decoded(info: decoded.info, clips: decoded.clipCount, decodedFrames: decoded.decodedFrames,
                                               decodeSeconds: Double(DispatchTime.now().uptimeNanoseconds - chunkStart) / 1e9,
                                               frameTimes: decoded.frameTimes, spans: decoded.spans)
                guard send(WorkerWire.encode(.chunk(chunk), sequence: walk.sequence)) else { throw ServerGone() }
                var answer = [UInt8](repeating: 0, count: 64)
                var n: Int
                repeat { n = answer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) } } while n < 0 && errno == EINTR
                guard n > 0, let more = try? WorkerWire.decodeGoOn(Array(answer[0..<n]), sequence: walk.sequence) else { throw ServerGone() }
                limitCPU(configuration.cpuSecondsPerRequest)
                chunkStart = DispatchTime.now().uptimeNanoseconds
                return more
            }
            reply = .end
        } catch is ServerGone {
            return false
        } catch let error as DecodeError {
            reply = .failed(error)
        } catch {
            reply = .failed(.internalFailure(detail: "unexpected error"))
        }
        return send(WorkerWire.encode(reply, sequence: walk.sequence))
    }

    /// The CPU this request may use, on top of what the worker has used so far. Below a hard limit the operator
    /// set, by a second: at the hard limit the kernel sends SIGKILL, which the server takes for its memory running
    /// out, while the soft limit's SIGXCPU says what happened.
    private static func limitCPU(_ seconds: Int) {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_CPU.rawValue), &limit)
        let ceiling = limit.rlim_max == rlim_t.max ? limit.rlim_max : max(1, limit.rlim_max) - 1  // rlim_t.max: RLIM_INFINITY
        limit.rlim_cur = min(ceiling, rlim_t(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + 1 + seconds))
        setrlimit(Int32(RLIMIT_CPU.rawValue), &limit)
    }

    /// Test-only: does what the upload asks, as a hostile file might make FFmpeg do.
    private static func injectFault(_ bytes: Data) {
        guard bytes.starts(with: Array(WorkerFault.marker.utf8)),
              let fault = WorkerFault(rawValue: String(decoding: bytes.dropFirst(WorkerFault.marker.utf8.count), as: UTF8.self))
        else { return }
        switch fault {
        case .crash:
            raise(SIGSEGV)
        case .hang:
            while true { sched_yield() }
        case .exhaustMemory:
            var blocks: [UnsafeMutableRawPointer] = []
            while let block = malloc(64 << 20) {
                memset(block, 1, 64 << 20)
                blocks.append(block)
            }
            // The address space limit refused the next block: die as a decoder that hit it would.
            abort()
        case .openFile:
            // The sandbox refuses it; a worker that could open the file dies as a crash, which a test tells apart.
            if open("/etc/hostname", O_RDONLY) >= 0 { raise(SIGSEGV) }
        case .newSocket:
            _ = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        case .connect:
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(WorkerConfiguration.socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        case .execute:
            var none: [UnsafeMutablePointer<CChar>?] = [nil]
            _ = execve("/bin/true", &none, &none)
        case .fork:
            _ = fork()
        }
    }
}
