@testable import DecodeSandbox
import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing
import VideoDecode

/// Real worker processes (the `r2plus1d` executable in `decode-worker` mode): the same clips as decoding
/// in-process, and every way a worker can die costing only its own upload.
@Suite(.serialized) struct SandboxedDecoderTests {
    final class Restarts: Sendable {
        let reasons = Mutex<[String]>([])
        var all: [String] { reasons.withLock { $0 } }
    }

    static func decoder(deadline: Double = 5, memory: Int = 768 << 20, maxRequests: Int = 1000,
                        restarts: Restarts = Restarts()) -> SandboxedDecoder {
        var limits = DecodeLimits()
        limits.deadlineSeconds = deadline
        var configuration = WorkerConfiguration(inputBytes: 8 << 20, maxClips: 4, limits: limits)
        configuration.memoryBytes = memory
        configuration.testFaults = true
        let shared = SandboxedDecoder.Shared { reason in restarts.reasons.withLock { $0.append(reason) } }
        return SandboxedDecoder(configuration: configuration, shared: shared, maxRequests: maxRequests,
                                executable: Executable.r2plus1d)
    }

    @Test func aWorkerDecodesExactlyWhatTheProcessItselfWould() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let decoder = Self.decoder()
        defer { decoder.stop() }
        let sandboxed = try decoder.decode(video, clips: 3)
        let local = try ClipDecoder.decode(video, clips: 3)
        #expect(sandboxed.values == local.values)
        #expect(sandboxed.info == local.info && sandboxed.frameTimes == local.frameTimes && sandboxed.spans == local.spans)
        #expect(sandboxed.decodedFrames == local.decodedFrames)
        // A bad video is the worker's own DecodeError, and the worker stays.
        let pid = try #require(decoder.workerPID)
        #expect(throws: DecodeError.self) { try decoder.decode(Data("not a video".utf8), clips: 1) }
        #expect(decoder.workerPID == pid)
    }

    @Test(arguments: [(WorkerFault.crash, "crash"), (.exhaustMemory, "crash"),
                      (.newSocket, "sandbox"), (.connect, "sandbox"), (.execute, "sandbox"), (.fork, "sandbox"), (.hang, "deadline")])
    func aDyingWorkerCostsOnlyItsUploadAndIsReplaced(fault: WorkerFault, reason: String) throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let restarts = Restarts()
        let decoder = Self.decoder(deadline: 1, restarts: restarts)
        defer { decoder.stop() }
        try decoder.prepare()
        let pid = try #require(decoder.workerPID)
        do {
            _ = try decoder.decode(Data(fault.upload), clips: 1)
            Issue.record("\(fault) did not fail")
        } catch let error as DecodeError {
            #expect(error.kind == (fault == .hang ? .overLimit : .decoderFailed), "\(error)")
        }
        #expect(restarts.all == [reason])
        #expect(ChildProcesses.isReaped(pid), "the dead worker \(pid) was not reaped")
        #expect(try decoder.decode(video, clips: 1).clipCount == 1)
        #expect(decoder.workerPID != pid)
    }

    @Test func aWorkerThatTriesToOpenAFileIsRefusedAndCarriesOn() throws {
        let restarts = Restarts()
        let decoder = Self.decoder(restarts: restarts)
        defer { decoder.stop() }
        try decoder.prepare()
        let pid = try #require(decoder.workerPID)
        // The open fails, then the upload (no video) is the worker's own DecodeError.
        #expect(throws: DecodeError.self) { try decoder.decode(Data(WorkerFault.openFile.upload), clips: 1) }
        #expect(restarts.all.isEmpty)
        #expect(decoder.workerPID == pid)
    }

    /// FFmpeg's MPEG-TS demuxer converts a service name's character set with iconv, which opens glibc's module
    /// cache: refused, the stream still decodes as it does in this process.
    @Test func aTransportStreamWithAServiceNameDecodesInAWorker() throws {
        let video = try TestVideos.make("service.ts", TestVideos.lavfi("testsrc2=size=320x240:rate=25")
            + ["-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-metadata", "service_name=News",
               "-metadata", "service_provider=Broadcaster", "-f", "mpegts"])
        let restarts = Restarts()
        let decoder = Self.decoder(restarts: restarts)
        defer { decoder.stop() }
        let sandboxed = try decoder.decode(video, clips: 2)
        let local = try ClipDecoder.decode(video, clips: 2)
        #expect(sandboxed.values == local.values)
        #expect(sandboxed.info == local.info)
        #expect(restarts.all.isEmpty)
    }

    @Test func aWorkerKilledWhileIdleDoesNotCostTheNextUpload() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let decoder = Self.decoder()
        defer { decoder.stop() }
        try decoder.prepare()
        let pid = try #require(decoder.workerPID)
        kill(pid, SIGKILL)
        while !ChildProcesses.isZombieOrGone(pid) { usleep(1000) }
        #expect(try decoder.decode(video, clips: 1).clipCount == 1)
    }

    @Test func aWorkerIsTheFirstProcessTheKernelKillsForMemory() throws {
        let decoder = Self.decoder()
        defer { decoder.stop() }
        try decoder.prepare()
        let pid = try #require(decoder.workerPID)
        let score = try String(contentsOfFile: "/proc/\(pid)/oom_score_adj", encoding: .utf8)
        #expect(score.trimmingCharacters(in: .whitespacesAndNewlines) == "1000")
    }

    /// posix_spawn fails with EAGAIN at a pids cgroup's limit or RLIMIT_NPROC.
    @Test func aStartFailureForWantOfDescriptorsOrProcessesIsTheServersShortage() {
        #expect(WorkerStartError("socketpair", EMFILE).shortage == "file descriptors")
        #expect(WorkerStartError("memfd", ENFILE).shortage == "file descriptors")
        #expect(WorkerStartError("posix_spawn", EAGAIN).shortage == "processes")
        #expect(WorkerStartError("mmap", EINVAL).shortage == nil)
        #expect(WorkerStartError("mmap", EAGAIN).shortage == nil)  // a locked-memory limit, not processes
    }

    /// A worker that cannot start for want of file descriptors fails its upload as the server's shortage (503), not
    /// as an internal error, and the next upload after the shortage decodes. In a child process: the limit is the
    /// process's.
    @Test func noDescriptorsForAWorkerFailsTheUploadAsRetryable() async {
        await #expect(processExitsWith: .success) {
            let video = try TestVideos.h264(seconds: 1, gop: 30)
            let decoder = Self.decoder()
            defer { decoder.stop() }
            let before = leaveDescriptorsFree(0)
            #expect { try decoder.decode(video, clips: 1) } throws: { ($0 as? DecodeError)?.kind == .serverShortage }
            restoreDescriptorLimit(before)
            #expect(try decoder.decode(video, clips: 1).clipCount == 1)
        }
    }

    /// A worker killed from outside mid-decode (what the kernel's out-of-memory killer does when a container's
    /// memory runs out) fails its upload as the server's lack of memory, to be retried; the third time, the upload
    /// is taken to need more memory than the server has, and is refused without a worker.
    @Test func aWorkerKilledForMemoryFailsItsUploadAsRetryable() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let restarts = Restarts()
        let decoder = Self.decoder(restarts: restarts)
        defer { decoder.stop() }
        let hang = Data(WorkerFault.hang.upload)
        for _ in 0..<3 {
            try decoder.prepare()
            let pid = try #require(decoder.workerPID)
            let killer = Thread {
                usleep(200_000)
                kill(pid, SIGKILL)
            }
            killer.start()
            #expect { try decoder.decode(hang, clips: 1) } throws: { ($0 as? DecodeError)?.kind == .outOfMemory }
        }
        #expect(restarts.all == ["out_of_memory", "out_of_memory", "out_of_memory"])
        #expect { try decoder.decode(hang, clips: 1) } throws: { ($0 as? DecodeError)?.kind == .decoderFailed }
        #expect(restarts.all.count == 3)
        #expect(try decoder.decode(video, clips: 1).clipCount == 1)
    }

    /// A video that needs more memory than a worker may have fails as over a limit, saying so, wherever FFmpeg's
    /// allocation fails: in the decoder with 400 MB (it was "no frame could be decoded"), in the conversion to RGB
    /// with 550 (it was an internal error, 500). The worker stays.
    @Test(arguments: [400, 550])
    func aVideoThatNeedsMoreMemoryThanAWorkerMayHaveIsOverALimit(megabytes: Int) throws {
        let video = try TestVideos.make("hevc-444-10bit-4096.mp4", TestVideos.lavfi("testsrc2=size=4096x4096:rate=30")
            + ["-frames:v", "2", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=0", "-pix_fmt", "yuv444p10le"])
        let restarts = Restarts()
        let decoder = Self.decoder(memory: megabytes << 20, restarts: restarts)
        defer { decoder.stop() }
        #expect { try decoder.decode(video, clips: 1) } throws: { ($0 as? DecodeError) == .needsTooMuchMemory }
        #expect(restarts.all.isEmpty)
    }

    @Test func contentThatKeepsKillingWorkersIsRefusedWithoutAWorker() throws {
        let restarts = Restarts()
        let decoder = Self.decoder(restarts: restarts)
        defer { decoder.stop() }
        let crash = Data(WorkerFault.crash.upload)
        for _ in 0..<3 { #expect(throws: DecodeError.self) { try decoder.decode(crash, clips: 1) } }
        #expect(restarts.all == ["crash", "crash"])
    }

    @Test func workersAreRecycledAfterTheirRequestsAndReaped() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let restarts = Restarts()
        let decoder = Self.decoder(maxRequests: 2, restarts: restarts)
        try decoder.prepare()
        let first = try #require(decoder.workerPID)
        for _ in 0..<2 { _ = try decoder.decode(video, clips: 1) }
        #expect(restarts.all == ["recycled_requests"] && ChildProcesses.isReaped(first))
        try decoder.prepare()
        let second = try #require(decoder.workerPID)
        decoder.stop()
        #expect(ChildProcesses.isReaped(second))
    }

    @Test func aWorkerThatCannotSandboxItselfStopsTheStartWithWhatToDo() throws {
        let configuration = WorkerConfiguration(inputBytes: 1 << 20, maxClips: 1, limits: DecodeLimits())
        try configuration.probe(executable: Executable.r2plus1d)
        // /bin/false never says hello, as a worker whose seccomp or prctl the container refuses would not.
        #expect { try configuration.probe(executable: "/bin/false") } throws: {
            "\($0)".contains("--decode-in-process")
        }
    }

    @Test func nonFiniteClipValuesAreCaught() {
        var values = [Float](repeating: 1.5, count: 1001)
        #expect(SandboxedDecoder.allFinite(values))
        for bad in [Float.nan, .infinity, -.infinity] {
            for index in [0, 500, 1000] {
                values[index] = bad
                #expect(!SandboxedDecoder.allFinite(values), "\(bad) at \(index)")
                values[index] = 1.5
            }
        }
    }
}
