@testable import DecodeSandbox
import Glibc
import Testing
import VideoDecode

/// The worker protocol from bytes: what a worker may say, and every way a reply is refused.
@Suite struct WorkerWireTests {
    static let request = WorkerWire.Request(sequence: 7, videoBytes: 1234, clips: 2)

    static func decoded(clips: Int = 2, width: Int = 320, times: Double = 0.5) -> WorkerWire.Decoded {
        let info = VideoInfo(container: "mov,mp4", codec: "h264", width: width, height: 240, fps: 30, durationSeconds: 3, rotation: 90)
        return WorkerWire.Decoded(info: info, clips: clips, decodedFrames: 40,
                                  frameTimes: Array(repeating: Array(repeating: times, count: 16), count: clips),
                                  spans: Array(repeating: ClipSpan(start_s: 0, end_s: 16.0 / 15), count: clips))
    }

    func reply(_ reply: WorkerWire.Reply, sequence: UInt64 = 7) throws(WorkerWire.ProtocolError) -> WorkerWire.Reply {
        try WorkerWire.decodeReply(WorkerWire.encode(reply, sequence: sequence), for: Self.request, maxDimension: 4096)
    }

    @Test func requestsAndRepliesRoundTrip() throws {
        #expect(try WorkerWire.decodeRequest(WorkerWire.encode(Self.request)) == Self.request)
        #expect(try reply(.decoded(Self.decoded())) == .decoded(Self.decoded()))
        let error = DecodeError.tooLong(seconds: 4000, limit: 3600)
        #expect(try reply(.failed(error)) == .failed(error))
    }

    @Test func aReplyThatDoesNotMatchTheRequestIsRefused() {
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded()), sequence: 8) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded(clips: 3))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded(width: 5000))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded(width: 0))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded(times: .nan))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.decoded(Self.decoded(times: .infinity))) }
    }

    @Test func truncatedPaddedOrForeignBytesAreRefused() {
        let good = WorkerWire.encode(.decoded(Self.decoded()), sequence: 7)
        for bad in [Array(good.dropLast()), good + [0], [UInt8](repeating: 0, count: good.count), Array(good.prefix(4)), []] {
            #expect(throws: WorkerWire.ProtocolError.self) {
                try WorkerWire.decodeReply(bad, for: Self.request, maxDimension: 4096)
            }
        }
        var badUTF8 = WorkerWire.Writer()
        badUTF8.magic("R2DR")
        badUTF8.u64(7)
        badUTF8.u8(1)
        badUTF8.string("overLimit")
        let message = badUTF8.bytes + [2, 0, 0xFF, 0xFE]  // a 2-byte message that is not UTF-8
        #expect(throws: WorkerWire.ProtocolError(description: "string not UTF-8")) {
            try WorkerWire.decodeReply(message, for: Self.request, maxDimension: 4096)
        }
        #expect(throws: WorkerWire.ProtocolError(description: "message ends early")) {
            try WorkerWire.decodeReply(badUTF8.bytes + [0x10, 0x00], for: Self.request, maxDimension: 4096)
        }
    }

    /// Including the server's own lack of memory or descriptors, which only the server can tell: a worker naming
    /// either would turn its failure into a retry.
    @Test(arguments: ["somethingNew", "outOfMemory", "serverShortage"])
    func anErrorKindAWorkerMayNotNameIsAnInternalFailure(_ kind: String) throws {
        var w = WorkerWire.Writer()
        w.magic("R2DR")
        w.u64(7)
        w.u8(1)
        w.string(kind)
        w.string("details")
        guard case .failed(let error) = try WorkerWire.decodeReply(w.bytes, for: Self.request, maxDimension: 4096) else {
            Issue.record("not a failure")
            return
        }
        #expect(error.kind == .internalFailure)
    }

    @Test func workerArgumentsRoundTrip() throws {
        var limits = DecodeLimits()
        limits.maxDimension = 1000
        limits.deadlineSeconds = 2.5
        var c = WorkerConfiguration(inputBytes: 1 << 20, maxClips: 4, limits: limits)
        c.testFaults = true
        c.memoryBytes = 123 << 20
        #expect(WorkerConfiguration(arguments: c.arguments) == c)
        #expect(WorkerConfiguration(arguments: ["--input-bytes=x"]) == nil)
    }
}

/// When workers are replaced, and how a death is read from a wait status.
@Suite struct WorkerLifecycleTests {
    static func signalled(_ signal: Int32) -> Int32 { signal }
    static func exited(_ code: Int32) -> Int32 { code << 8 }

    @Test func deathsAreNamedBySignal() {
        let reason = { (status: Int32, byServer: Bool) in
            WorkerLifecycle.reason(waitStatus: status, killedByServer: byServer, deadlinePassed: false)
        }
        #expect(reason(Self.signalled(SIGSEGV), false) == .crash)
        #expect(reason(Self.signalled(SIGABRT), false) == .crash)
        #expect(reason(Self.signalled(SIGSYS), false) == .sandbox)
        #expect(reason(Self.signalled(SIGXCPU), false) == .cpu)
        // Not sent by the server: the kernel's out-of-memory killer, which scores workers first.
        #expect(reason(Self.signalled(SIGKILL), false) == .outOfMemory)
        #expect(reason(Self.signalled(SIGKILL), true) == .protocolViolation)
        #expect(reason(Self.exited(0), false) == .protocolViolation)
        #expect(WorkerLifecycle.reason(waitStatus: Self.signalled(SIGKILL), killedByServer: true, deadlinePassed: true) == .deadline)
    }

    @Test func workersAreRecycledAfterNRequestsOrOnGrowth() {
        var byCount = WorkerLifecycle(maxRequests: 3, maxResidentBytes: 100)
        #expect(byCount.answered(residentBytes: 10) == nil)
        #expect(byCount.answered(residentBytes: 10) == nil)
        #expect(byCount.answered(residentBytes: 10) == .recycledRequests)
        var byMemory = WorkerLifecycle(maxRequests: 100, maxResidentBytes: 100)
        #expect(byMemory.answered(residentBytes: 100) == nil)
        #expect(byMemory.answered(residentBytes: 101) == .recycledMemory)
    }

    /// A worker the kernel killed for memory says little of its upload (the largest decode dies, whoever caused
    /// the shortage), so that takes three deaths; one that needed the memory each time is then refused rather
    /// than retried forever.
    @Test func contentWhoseWorkersKeepBeingKilledForMemoryIsRefusedAfterThree() {
        var registry = CrashRegistry(threshold: 2, memoryThreshold: 3, capacity: 4)
        let big: [UInt8] = Array("big".utf8), crashed: [UInt8] = Array("bad".utf8)
        for _ in 0..<2 { big.withUnsafeBytes { registry.recordDeath($0, outOfMemory: true) } }
        #expect(!big.withUnsafeBytes { registry.isRefused($0) })
        big.withUnsafeBytes { registry.recordDeath($0, outOfMemory: true) }
        #expect(big.withUnsafeBytes { registry.isRefused($0) })
        // Kinds are counted apart: one crash and two memory kills are not two crashes.
        crashed.withUnsafeBytes { registry.recordDeath($0, outOfMemory: false) }
        for _ in 0..<2 { crashed.withUnsafeBytes { registry.recordDeath($0, outOfMemory: true) } }
        #expect(!crashed.withUnsafeBytes { registry.isRefused($0) })
    }

    @Test func aWorkerKilledFromOutsideBeforeItsHelloIsOutOfMemory() {
        #expect(WorkerStartError(diedWith: WorkerLifecycleTests.signalled(SIGKILL)).outOfMemory)
        #expect(!WorkerStartError(diedWith: WorkerLifecycleTests.signalled(SIGSYS)).outOfMemory)
        #expect(!WorkerStartError(diedWith: WorkerLifecycleTests.exited(2)).outOfMemory)
        #expect(!WorkerStartError(diedWith: nil).outOfMemory)  // alive but silent: killed by the server
        #expect("\(WorkerStartError(diedWith: nil))".contains("sandbox"))
    }

    @Test func contentThatKilledWorkersTwiceIsRefusedAndOtherContentIsNot() {
        var registry = CrashRegistry(threshold: 2, capacity: 2)
        let bad: [UInt8] = Array("killer".utf8), sameSize: [UInt8] = Array("kilter".utf8)
        bad.withUnsafeBytes { registry.recordDeath($0) }
        #expect(!bad.withUnsafeBytes { registry.isRefused($0) })
        bad.withUnsafeBytes { registry.recordDeath($0) }
        #expect(bad.withUnsafeBytes { registry.isRefused($0) })
        #expect(!sameSize.withUnsafeBytes { registry.isRefused($0) })
        // The oldest entries go first once the registry is full.
        for other in ["one", "two"] { Array(other.utf8).withUnsafeBytes { registry.recordDeath($0) } }
        #expect(!bad.withUnsafeBytes { registry.isRefused($0) })
    }
}
