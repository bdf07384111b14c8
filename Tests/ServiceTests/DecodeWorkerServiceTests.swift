import Foundation
import Glibc
import DecodeSandbox
import Service
import TestSupport
import Testing

/// The service with its decode workers: a worker that dies costs the request it held and nothing else.
@Suite(.serialized) struct DecodeWorkerServiceTests {
    static func concurrently(_ bodies: [@Sendable () -> Int]) -> [Int] {
        let results = ResultsList()
        let group = DispatchGroup()
        for body in bodies {
            group.enter()
            Thread.detachNewThread {
                results.append(body())
                group.leave()
            }
        }
        group.wait()
        return results.values
    }

    static func upload(_ test: TestService, _ video: Data, clips: Int = 1) -> Int {
        (try? test.post("/classify?clips=\(clips)", body: video, contentType: "video/mp4").status) ?? -1
    }

    /// A hundred requests after the fault, none failing.
    static func servesAHundred(_ test: TestService, _ video: Data) -> Bool {
        (0..<100).allSatisfy { _ in upload(test, video) == 200 }
    }

    /// SIGSEGV is a crash on the video (422); SIGKILL from outside is what the kernel's out-of-memory killer sends
    /// when the container's memory runs out, and the workers are its first choice (503, retry).
    @Test(arguments: [(SIGSEGV, 422, "crash"), (SIGKILL, 503, "out_of_memory")])
    func aWorkerKilledWhileUploadsDecodeCostsExactlyOneRequest(signal: Int32, status: Int, reason: String) throws {
        let heavy = try TestVideos.make("worker_heavy.mp4", TestVideos.lavfi("testsrc2=size=1280x720:rate=30") + ["-t", "10", "-c:v", "libx264", "-g", "300", "-pix_fmt", "yuv420p"])
        let small = try TestVideos.h264(seconds: 1, gop: 30)
        let test = try TestService { $0.decodeThreads = 2 }
        let killer = Thread {
            // Both workers busy: one of them decoding an upload now.
            while (try? test.metric("r2plus1d_decode_workers_busy")) ?? 0 < 2 { usleep(2000) }
            usleep(50_000)
            if let worker = ChildProcesses.decodeWorkers(of: getpid()).first { kill(worker, signal) }
        }
        killer.start()
        let statuses = Self.concurrently((0..<8).map { _ in { Self.upload(test, heavy, clips: 4) } })
        #expect(statuses.sorted() == (Array(repeating: 200, count: 7) + [status]).sorted(), "\(statuses)")
        #expect(try test.metric("r2plus1d_decode_worker_restarts_total{reason=\"\(reason)\"}") == 1)
        #expect(Self.servesAHundred(test, small))
        #expect(test.stop())
        #expect(ChildProcesses.decodeWorkers(of: getpid()).isEmpty, "workers outlived their server")
    }

    @Test(arguments: [WorkerFault.crash, .hang, .exhaustMemory, .newSocket])
    func aHostileUploadAmongOthersCostsOnlyItself(fault: WorkerFault) throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let test = try TestService {
            $0.workerTestFaults = true
            $0.workerMemoryBytes = 768 << 20
            $0.decodeLimits.deadlineSeconds = 2
        }
        let statuses = Self.concurrently([{ Self.upload(test, Data(fault.upload)) }] + (0..<7).map { _ in { Self.upload(test, video) } })
        #expect(statuses.sorted() == [200, 200, 200, 200, 200, 200, 200, 422], "\(statuses)")
        #expect(Self.servesAHundred(test, video))
        #expect(test.stop())
    }
}
