import Foundation
import Glibc
import TestSupport
import Testing

/// The real executable, stopped the way Kubernetes stops it.
@Suite(.serialized) struct ShutdownTests {
    static let packageRoot = Executable.packageRoot

    @Test func sigtermWithRequestsInFlightAndQueued() throws {
        let binary = URL(fileURLWithPath: Executable.r2plus1d)
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build first: bash scripts/test.sh")
        let process = Process()
        process.executableURL = binary
        process.currentDirectoryURL = Self.packageRoot
        process.arguments = ["serve", "--demo-weights", "--host", "127.0.0.1", "--port", "0", "--max-batch", "4",
                             "--max-delay-ms", "100", "--threads", "2", "--drain-delay-s", "1", "--drain-timeout-s", "120",
                             "--timeout-s", "120"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let port = try #require(Self.port(from: errors.fileHandleForReading), "no 'listening' line in the log")
        var ready = false
        for _ in 0..<300 where !ready {
            ready = (try? RawClient(port: port).get("/readyz"))??.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.05) }
        }
        try #require(ready)
        #expect(try RawClient(port: port).get("/v1/model")?.body.contains("\"demo\":true") == true)

        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let statuses = ResultsList()
        let sent = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        for _ in 0..<8 {
            Thread.detachNewThread {
                let client = try? RawClient(port: port, receiveTimeout: 60)
                client?.send("POST /classify?clips=2 HTTP/1.1\r\nHost: t\r\nContent-Type: video/mp4\r\nContent-Length: \(video.count)\r\n\r\n")
                client?.send([UInt8](video))
                sent.signal()
                statuses.append(client?.response()?.status ?? -1)
                done.signal()
            }
        }
        for _ in 0..<8 { sent.wait() }
        let workers = ChildProcesses.decodeWorkers(of: process.processIdentifier)
        #expect(workers.count == 2, "decode workers: \(workers)")
        Thread.sleep(forTimeInterval: 0.5)  // decoded and queued: 16 clips, a few forward passes in
        kill(process.processIdentifier, SIGTERM)
        Thread.sleep(forTimeInterval: 0.2)
        // Readiness turns 503 while the listener is still open.
        #expect(try RawClient(port: port).get("/readyz")?.status == 503)
        for _ in 0..<8 { done.wait() }
        process.waitUntilExit()
        #expect(statuses.values.count == 8 && statuses.values.allSatisfy { $0 == 200 }, "\(statuses.values)")
        #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        // The drain stopped and reaped every worker before the server exited.
        #expect(workers.allSatisfy(ChildProcesses.isReaped), "workers left: \(workers)")
    }

    @Test func killDashNineOfTheServerLeavesNoWorker() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executable.r2plus1d)
        process.currentDirectoryURL = Self.packageRoot
        process.arguments = ["serve", "--demo-weights", "--host", "127.0.0.1", "--port", "0", "--decode-threads", "2"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        _ = try #require(Self.port(from: errors.fileHandleForReading), "no 'listening' line in the log")
        var workers: [Int32] = []
        for _ in 0..<200 where workers.count < 2 {
            workers = ChildProcesses.decodeWorkers(of: process.processIdentifier)
            usleep(20_000)
        }
        #expect(workers.count == 2)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // PR_SET_PDEATHSIG: the kernel kills each worker as its server dies.
        for _ in 0..<100 where !workers.allSatisfy(ChildProcesses.isZombieOrGone) { usleep(20_000) }
        #expect(workers.allSatisfy(ChildProcesses.isZombieOrGone), "workers outlived their server: \(workers)")
    }

    /// Reads the log until the line that says which port the server bound.
    static func port(from handle: FileHandle) -> Int? {
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let data = handle.availableData
            if data.isEmpty { return nil }
            text += String(decoding: data, as: UTF8.self)
            if let range = text.range(of: "server.port=") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if !digits.isEmpty, text[range.upperBound...].dropFirst(digits.count).first != nil { return Int(digits) }
            }
        }
        return nil
    }
}

extension RawClient {
    func get(_ path: String) -> (status: Int, headers: [String: String], body: String)? {
        send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
        return response()
    }
}

final class ResultsList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Int] = []
    func append(_ value: Int) { lock.withLock { list.append(value) } }
    var values: [Int] { lock.withLock { list } }
}
