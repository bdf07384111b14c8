import Glibc
@testable import HTTPServer
import Testing

/// The accept loop's decisions, without sockets.
@Suite struct AcceptGateTests {
    @Test func eachErrnoLeadsToItsStep() {
        var gate = AcceptGate()
        let steps = [EAGAIN, EINTR, ECONNABORTED, EPROTO, ENETUNREACH, EMFILE, ENFILE].map {
            gate.failed(errno: $0, hasSpare: true, now: 0)
        }
        #expect(steps == [.stop, .acceptNext, .acceptNext, .acceptNext, .acceptNext, .refuseWithSpare, .refuseWithSpare])
        #expect(!gate.isPaused)
    }

    /// The spare descriptor could not be reopened, or its own accept failed for want of one: accepting pauses and
    /// resumes 100 ms later, rather than spinning on a listener that stays readable.
    @Test func outOfDescriptorsWithoutASparePausesThenResumes() {
        var gate = AcceptGate()
        #expect(gate.failed(errno: EMFILE, hasSpare: false, now: 1_000) == .pause)
        let early = gate.resumes(now: 1_000 + 99_999_999)
        #expect(gate.isPaused && !early)
        let due = gate.resumes(now: 1_000 + 100_000_000)
        #expect(due && !gate.isPaused)
        let again = gate.resumes(now: 2_000_000_000)
        #expect(!again)
    }

    @Test func anyOtherFailurePauses() {
        for code in [ENOBUFS, ENOMEM, EINVAL] {
            var gate = AcceptGate()
            let step = gate.failed(errno: code, hasSpare: true, now: 0)
            #expect(step == .pause && gate.isPaused, "\(code)")
        }
    }

    @Test func aThrottleReportsTheFirstEventThenOneLineAnInterval() {
        var throttle = EventThrottle(intervalNanoseconds: 10)
        #expect(throttle.record(now: 100) == 1)
        #expect((1...9).map { throttle.record(now: 100 + UInt64($0)) } == Array(repeating: nil, count: 9))
        #expect(throttle.record(now: 110) == 10)
        #expect(throttle.record(now: 115) == nil)
        #expect(throttle.record(now: 200) == 2)
    }
}
