import Glibc
@testable import HTTPServer
import Testing

@Suite struct AcceptFailureTests {
    @Test func eachErrnoLeadsToItsStep() {
        #expect(AcceptFailure(errno: EAGAIN) == .noneWaiting)
        #expect([EINTR, ECONNABORTED, EPROTO, ENETUNREACH].map(AcceptFailure.init(errno:)) == Array(repeating: .retry, count: 4))
        #expect(AcceptFailure(errno: EMFILE) == .outOfDescriptors && AcceptFailure(errno: ENFILE) == .outOfDescriptors)
        #expect(AcceptFailure(errno: ENOBUFS) == .pause && AcceptFailure(errno: ENOMEM) == .pause)
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
