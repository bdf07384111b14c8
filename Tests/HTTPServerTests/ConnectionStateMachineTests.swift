import Foundation
@testable import HTTPServer
import Testing

/// One connection's protocol with a fake clock and no sockets: pipelining, 100-continue, every timeout,
/// lingering close and drain.
@Suite struct ConnectionStateMachineTests {
    static let second: UInt64 = 1_000_000_000

    /// The machine with a fake socket: what was sent, what was dispatched, and the actions in order.
    struct Harness {
        var machine: ConnectionStateMachine
        var now: UInt64 = 1_000 * ConnectionStateMachineTests.second
        var sent = ""
        var dispatched: [(request: HTTPRequest, context: RequestContext)] = []
        var log: [ConnectionStateMachine.Action] = []

        init(handshaking: Bool = false, budget: BodyBudget = BodyBudget(limit: .max), cors: CORSPolicy? = nil,
             configure: (inout HTTPServerConfiguration) -> Void = { _ in }) {
            var configuration = HTTPServerConfiguration()
            configure(&configuration)
            machine = ConnectionStateMachine(limits: configuration.limits, timeouts: .init(configuration), now: now,
                                             handshaking: handshaking, budget: budget, cors: cors)
        }

        var completed: [CompletedRequest] {
            log.compactMap { if case .completed(let entry) = $0 { entry } else { nil } }
        }
        var closed: Bool { log.contains { if case .close = $0 { true } else { false } } }
        var shutDown: Bool { log.contains { if case .shutdownWrite = $0 { true } else { false } } }

        mutating func advance(seconds: Double) { now += UInt64(seconds * 1e9) }

        /// Feeds bytes, then writes whatever the machine asks to be written, as an always-writable socket would.
        mutating func receive(_ text: String) {
            var actions: [ConnectionStateMachine.Action] = []
            Array(text.utf8).withUnsafeBytes { machine.received($0, now: now, into: &actions) }
            carryOut(actions)
        }

        mutating func respond(_ response: HTTPResponse) {
            var actions: [ConnectionStateMachine.Action] = []
            machine.respond(response, now: now, into: &actions)
            carryOut(actions)
        }

        mutating func tick() {
            var actions: [ConnectionStateMachine.Action] = []
            machine.tick(now: now, into: &actions)
            carryOut(actions)
        }

        mutating func drain() {
            var actions: [ConnectionStateMachine.Action] = []
            machine.drain(now: now, into: &actions)
            carryOut(actions)
        }

        mutating func peerClosed() {
            var actions: [ConnectionStateMachine.Action] = []
            machine.peerClosed(into: &actions)
            carryOut(actions)
        }

        /// Writes at most `limit` bytes of pending output.
        mutating func writeSome(_ limit: Int) {
            var actions: [ConnectionStateMachine.Action] = []
            let chunk = machine.withUnsentOutput { String(decoding: $0.prefix(limit), as: UTF8.self) }
            sent += chunk
            machine.wrote(chunk.utf8.count, now: now, into: &actions)
            carryOut(actions)
        }

        var autoWrite = true

        mutating func carryOut(_ actions: [ConnectionStateMachine.Action]) {
            var queue = actions
            var index = 0
            while index < queue.count {
                let action = queue[index]
                index += 1
                log.append(action)
                switch action {
                case .dispatch(let request, let context): dispatched.append((request, context))
                case .write where autoWrite:
                    while machine.hasUnsentOutput {
                        let chunk = machine.withUnsentOutput { String(decoding: $0, as: UTF8.self) }
                        sent += chunk
                        machine.wrote(chunk.utf8.count, now: now, into: &queue)
                    }
                default: break
                }
            }
        }

        /// The status codes of the responses sent so far, in order.
        var statuses: [Int] {
            sent.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
        }
    }

    static func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)\r\n" }

    @Test func pipelinedRequestsAreDispatchedOneAtATimeAndAnsweredInOrder() {
        var h = Harness()
        h.receive(Self.get("/a") + Self.get("/b") + Self.get("/c"))
        #expect(h.dispatched.map(\.request.path) == ["/a"])
        #expect(h.machine.interest == [])  // nothing is read while a handler works
        h.respond(.text("A"))
        #expect(h.dispatched.map(\.request.path) == ["/a", "/b"])
        h.respond(.text("B"))
        h.respond(.text("C"))
        #expect(h.dispatched.map(\.request.path) == ["/a", "/b", "/c"])
        let bodies = h.sent.components(separatedBy: "\r\n\r\n").dropFirst().map { String($0.prefix(1)) }
        #expect(bodies == ["A", "B", "C"] && h.statuses == [200, 200, 200])
        #expect(h.completed.map(\.path) == ["/a", "/b", "/c"])
        #expect(!h.closed && h.machine.isIdle && h.machine.interest == .read)
    }

    @Test func theSecondRequestWaitsUntilTheFirstResponseIsFullyWritten() {
        var h = Harness()
        h.autoWrite = false
        h.receive(Self.get("/a") + Self.get("/b"))
        h.respond(.text("first"))
        h.writeSome(10)
        #expect(h.dispatched.count == 1 && h.machine.interest == .write)
        h.writeSome(1 << 20)
        #expect(h.dispatched.map(\.request.path) == ["/a", "/b"])
    }

    @Test func expectContinueIsAnsweredBeforeTheBodyAndNotForHTTP10() {
        var h = Harness()
        h.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(h.sent == "HTTP/1.1 100 Continue\r\n\r\n" && h.dispatched.isEmpty)
        h.receive("abcd")
        #expect(h.dispatched.first?.request.body == Data("abcd".utf8))

        var old = Harness()
        old.receive("POST /up HTTP/1.0\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        #expect(old.sent.isEmpty)
    }

    @Test func connectionCloseShutsTheWriteSideThenLingersForTwoSeconds() {
        var h = Harness()
        h.receive(Self.get("/a", "Connection: close\r\n"))
        h.respond(.text("bye"))
        #expect(h.sent.contains("Connection: close\r\n") && h.shutDown && !h.closed)
        h.receive(Self.get("/ignored"))  // drained, not parsed
        #expect(h.dispatched.count == 1 && h.machine.interest == .read)
        h.advance(seconds: 1.9)
        h.tick()
        #expect(!h.closed)
        h.advance(seconds: 0.2)
        h.tick()
        #expect(h.closed)
    }

    @Test func http10ClosesUnlessItAsksForKeepAlive() {
        var h = Harness()
        h.receive("GET /a HTTP/1.0\r\n\r\n")
        h.respond(.text("x"))
        #expect(h.shutDown)
        var kept = Harness()
        kept.receive("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        kept.respond(.text("x"))
        #expect(!kept.shutDown && kept.machine.isIdle)
    }

    @Test func idleKeepAliveConnectionsCloseAfterTheIdleTimeout() {
        var h = Harness { $0.idleTimeoutSeconds = 60 }
        h.receive(Self.get("/a"))
        h.respond(.text("x"))
        h.advance(seconds: 59)
        h.tick()
        #expect(!h.closed)
        h.advance(seconds: 2)
        h.tick()
        #expect(h.closed && h.statuses == [200])  // closed silently: there is no request to answer
    }

    @Test func theHeaderTimeoutIsATotalBudgetHoweverTheHeadIsDribbled() {
        var h = Harness { $0.headerTimeoutSeconds = 10 }
        for byte in "GET /a HTTP/1.1\r\nHost:".map(String.init) {
            h.receive(byte)
            h.advance(seconds: 0.5)
            h.tick()
            if !h.sent.isEmpty { break }
        }
        #expect(h.statuses == [408])
        #expect(h.sent.contains("did not arrive within 10 s") && h.shutDown)
        #expect(h.completed.first?.status == 408)
    }

    @Test func aSlowBodyIsRefusedAfterTheGracePeriodAndAFastOneIsNot() {
        func upload(bytesPerSecond: Int) -> Harness {
            var h = Harness { $0.bodyGraceSeconds = 10; $0.minBodyBytesPerSecond = 1024 }
            h.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            for _ in 0..<12 {
                h.advance(seconds: 1)
                h.receive(String(repeating: "x", count: bytesPerSecond))
                h.tick()
            }
            return h
        }
        let slow = upload(bytesPerSecond: 500)
        #expect(slow.statuses == [408] && slow.sent.contains("too slowly"))
        let fast = upload(bytesPerSecond: 5000)
        #expect(fast.sent.isEmpty && !fast.closed)
    }

    @Test func theWholeBodyMustArriveWithinTheBodyTimeout() {
        var h = Harness { $0.bodyTimeoutSeconds = 120 }
        h.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        for _ in 0..<121 {
            h.advance(seconds: 1)
            h.receive(String(repeating: "x", count: 4096))
            h.tick()
        }
        #expect(h.statuses == [408])
    }

    @Test func aClientThatStopsReadingIsDroppedAfterTheWriteTimeout() {
        var h = Harness { $0.writeTimeoutSeconds = 30 }
        h.autoWrite = false
        h.receive(Self.get("/big"))
        h.respond(.text(String(repeating: "y", count: 100_000)))
        h.writeSome(1000)
        h.machine.writeBlocked(wantWrite: true, now: h.now)
        h.advance(seconds: 20)
        h.writeSome(1000)  // progress restarts the clock
        h.machine.writeBlocked(wantWrite: true, now: h.now)
        h.advance(seconds: 29)
        h.tick()
        #expect(!h.closed)
        h.advance(seconds: 2)
        h.tick()
        #expect(h.closed)
    }

    @Test func aHandlerIsNeverTimedOutByTheConnection() {
        var h = Harness { $0.headerTimeoutSeconds = 10; $0.idleTimeoutSeconds = 60 }
        h.receive(Self.get("/slow"))
        h.advance(seconds: 600)
        h.tick()
        #expect(!h.closed && h.sent.isEmpty)
        h.respond(.text("late"))
        #expect(h.statuses == [200])
    }

    @Test func drainClosesIdleConnectionsAndRefusesHalfSentHeads() {
        var idle = Harness()
        idle.drain()
        #expect(idle.closed && idle.sent.isEmpty)

        var half = Harness()
        half.receive("GET /a HTTP/1.1\r\nHo")
        half.drain()
        #expect(half.statuses == [503] && half.sent.contains("Retry-After: 1") && half.shutDown)
    }

    @Test func drainLetsTheRequestInFlightFinishThenCloses() {
        var h = Harness()
        h.receive(Self.get("/a") + Self.get("/b"))
        h.drain()
        #expect(!h.closed && h.sent.isEmpty)
        h.respond(.text("done"))
        // Answered with Connection: close; the pipelined request never reaches a handler.
        #expect(h.statuses == [200] && h.sent.contains("Connection: close") && h.dispatched.count == 1 && h.shutDown)
    }

    @Test func aBodyInProgressIsReadThroughADrainAndRefused() {
        var h = Harness()
        h.receive("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        h.drain()
        #expect(h.sent.isEmpty)
        h.receive("cd")
        #expect(h.dispatched.isEmpty && h.statuses == [503] && h.completed.first?.path == "/up")
    }

    @Test func aHangUpWhileHandlingCancelsTheRequestAndItsResponseIsDropped() {
        var h = Harness()
        h.receive(Self.get("/slow"))
        let context = h.dispatched[0].context
        h.peerClosed()
        #expect(context.isCancelled && h.closed)
        let before = h.log.count
        h.respond(.text("too late"))
        #expect(h.log.count == before && h.sent.isEmpty)
    }

    @Test func malformedRequestsAreRefusedWithTheirStatusAndClose() {
        var h = Harness()
        h.receive("GET / HTTP/1.1\r\n\r\n")
        #expect(h.statuses == [400] && h.sent.contains("Connection: close") && h.shutDown && h.dispatched.isEmpty)
        #expect(h.completed.first?.status == 400)
    }

    @Test func headGetsTheLengthWithoutTheBody() {
        var h = Harness()
        h.receive("HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")
        h.respond(.text("eleven char"))
        #expect(h.sent.contains("Content-Length: 11\r\n") && h.sent.hasSuffix("\r\n\r\n"))
    }

    @Test func aPlainClientRequestIDIsEchoedAndOthersReplaced() {
        var h = Harness()
        h.receive(Self.get("/a", "X-Request-Id: trace-7:a/b\r\n"))
        h.respond(.text("x"))
        h.receive(Self.get("/b", "X-Request-Id: has space\r\n"))
        h.respond(.text("y"))
        #expect(h.dispatched.map(\.context.requestID).first == "trace-7:a/b")
        let replaced = h.dispatched[1].context.requestID
        #expect(replaced.count == 16 && replaced.allSatisfy(\.isHexDigit))
        #expect(h.sent.contains("X-Request-Id: trace-7:a/b\r\n") && h.sent.contains("X-Request-Id: \(replaced)\r\n"))
    }

    @Test func theTransportsWaitDecidesTheInterest() {
        var h = Harness(handshaking: true)
        #expect(h.machine.interest == .read)
        h.machine.transportBlocked(wantWrite: true)
        #expect(h.machine.interest == .write)
        h.machine.handshakeCompleted()
        #expect(h.machine.isReading && h.machine.interest == .read)
        h.autoWrite = false
        h.receive(Self.get("/a"))
        h.respond(.text("x"))
        #expect(h.machine.interest == .write)
        h.machine.writeBlocked(wantWrite: false, now: h.now)  // TLS needs to read before it can write
        #expect(h.machine.interest == .read)
    }

    @Test func aHandshakeThatTakesTooLongClosesWithoutAResponse() {
        var h = Harness(handshaking: true) { $0.headerTimeoutSeconds = 10 }
        h.advance(seconds: 11)
        h.tick()
        #expect(h.closed && h.sent.isEmpty)
    }

    @Test func theAccessLogEntryTimesTheRequestFromItsFirstByte() {
        var h = Harness()
        h.receive(Self.get("/a"))
        h.respond(.text("x"))
        h.advance(seconds: 5)
        h.receive("GET /b HTTP/1.1\r\n")
        h.advance(seconds: 1)
        h.receive("Host: x\r\n\r\n")
        h.advance(seconds: 2)
        h.respond(.text("y"))
        #expect(h.completed.map(\.path) == ["/a", "/b"])
        #expect(abs(h.completed[1].durationSeconds - 3) < 1e-9)
    }
}

/// The bytes of request bodies held by all connections at once are bounded: a request whose body would not fit
/// is refused 503 before its body is read, and its connection closed; the bytes come back when a request is
/// answered, or its connection closes.
@Suite struct BodyBudgetTests {
    typealias Harness = ConnectionStateMachineTests.Harness

    static func post(_ length: Int, expect: Bool = false) -> String {
        "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n" + (expect ? "Expect: 100-continue\r\n" : "") + "\r\n"
    }

    @Test func aBodyThatWouldNotFitIsRefusedBeforeItIsRead() {
        let budget = BodyBudget(limit: 100)
        var a = Harness(budget: budget), b = Harness(budget: budget)
        a.receive(Self.post(80) + String(repeating: "a", count: 80))
        #expect(a.dispatched.count == 1 && budget.inUse == 80)
        // 80 + 30 > 100: refused at the head, with 100-continue never sent, so the client sends no body.
        b.receive(Self.post(30, expect: true))
        #expect(b.dispatched.isEmpty)
        #expect(b.sent.hasPrefix("HTTP/1.1 503") && !b.sent.contains("100 Continue") && b.sent.contains("Retry-After: 1"))
        #expect(b.sent.lowercased().contains("connection: close") && b.shutDown)
        #expect(budget.inUse == 80)
        // Answered: the 80 bytes come back, and a body of 100 fits.
        a.respond(.text("ok"))
        #expect(budget.inUse == 0)
        var c = Harness(budget: budget)
        c.receive(Self.post(100) + String(repeating: "c", count: 100))
        #expect(c.dispatched.count == 1 && budget.inUse == 100)
    }

    @Test func aChunkedBodyIsCountedAsItArrives() {
        let budget = BodyBudget(limit: 100)
        var h = Harness(budget: budget)
        h.receive("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        h.receive("28\r\n" + String(repeating: "x", count: 40) + "\r\n")
        #expect(h.dispatched.isEmpty && !h.sent.contains("503"))
        h.receive("50\r\n" + String(repeating: "y", count: 80) + "\r\n")
        #expect(h.dispatched.isEmpty && h.sent.hasPrefix("HTTP/1.1 503") && h.shutDown)
        #expect(budget.inUse == 0)
    }

    @Test func aConnectionThatClosesGivesItsBytesBack() {
        let budget = BodyBudget(limit: 100)
        var a = Harness(budget: budget)
        a.receive(Self.post(90) + String(repeating: "a", count: 10))
        #expect(budget.inUse == 90)
        a.peerClosed()
        #expect(budget.inUse == 0)
        // A request dispatched and then abandoned by its client gives its bytes back too.
        var b = Harness(budget: budget)
        b.receive(Self.post(50) + String(repeating: "b", count: 50))
        #expect(b.dispatched.count == 1 && budget.inUse == 50)
        b.peerClosed()
        #expect(budget.inUse == 0)
    }

    /// What a handler makes from the body (a decoded Content-Encoding) is charged through its context, beside
    /// the body, and comes back with it: on the answer, the end of a stream, or the connection's close. After
    /// that, the context takes nothing more, so a handler still running cannot strand bytes in the budget.
    @Test func bytesAHandlerHoldsComeBackWithTheBody() throws {
        let budget = BodyBudget(limit: 100)
        var a = Harness(budget: budget)
        a.receive(Self.post(10) + String(repeating: "a", count: 10))
        let context = try #require(a.dispatched.first?.context)
        #expect(context.hold(60) && budget.inUse == 70)
        #expect(!context.hold(40) && budget.inUse == 70)
        a.respond(.text("ok"))
        #expect(budget.inUse == 0)
        #expect(!context.hold(1) && budget.inUse == 0)
        var b = Harness(budget: budget)
        b.receive(Self.post(10) + String(repeating: "b", count: 10))
        let streaming = try #require(b.dispatched.first?.context)
        #expect(streaming.hold(50))
        b.respond(StreamingResponseTests.stream)
        #expect(budget.inUse == 60)
        b.endStream()
        #expect(budget.inUse == 0)
        var c = Harness(budget: budget)
        c.receive(Self.post(10) + String(repeating: "c", count: 10))
        let abandoned = try #require(c.dispatched.first?.context)
        #expect(abandoned.hold(80) && budget.inUse == 90)
        c.peerClosed()
        #expect(budget.inUse == 0 && !abandoned.hold(1) && budget.inUse == 0)
    }

    @Test func aStreamedAnswerHoldsTheBodyUntilItEnds() {
        let budget = BodyBudget(limit: 100)
        var h = Harness(budget: budget)
        h.receive(Self.post(60) + String(repeating: "a", count: 60))
        h.respond(StreamingResponseTests.stream)
        h.stream("{\"window\":1}\n")
        // The handler still has the upload while it streams (a timeline walks it).
        #expect(budget.inUse == 60)
        h.endStream()
        #expect(budget.inUse == 0)
    }

    @Test func bodilessRequestsNeverWait() {
        let budget = BodyBudget(limit: 0)
        var h = Harness(budget: budget)
        h.receive("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(h.dispatched.count == 1)
    }
}

/// The connection's own refusals carry the CORS policy's headers too, so a page on a listed origin can read a 413
/// or a 503 (the server closes gracefully after them, so browsers do get them).
@Suite struct ConnectionRefusalCORSTests {
    static let cors = CORSPolicy(parsing: "https://app.example.com")

    static func header(_ name: String, in sent: String) -> String? {
        sent.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    @Test func aDeclaredBodyOverTheLimitIsRefusedReadably() {
        var harness = ConnectionStateMachineTests.Harness(cors: Self.cors) { $0.limits.maxBodyBytes = 100 }
        harness.receive("POST /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nContent-Length: 1000\r\n\r\n")
        #expect(harness.sent.hasPrefix("HTTP/1.1 413"))
        #expect(Self.header("Access-Control-Allow-Origin", in: harness.sent) == "https://app.example.com")
    }

    @Test func aChunkedBodyOverTheLimitIsRefusedReadably() {
        var harness = ConnectionStateMachineTests.Harness(cors: Self.cors) { $0.limits.maxBodyBytes = 100 }
        harness.receive("POST /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "3e8\r\n")
        #expect(harness.sent.hasPrefix("HTTP/1.1 413"))
        #expect(Self.header("Access-Control-Allow-Origin", in: harness.sent) == "https://app.example.com")
    }

    @Test func aBodyTheBudgetCannotHoldIsRefusedReadably() {
        var harness = ConnectionStateMachineTests.Harness(budget: BodyBudget(limit: 10), cors: Self.cors)
        harness.receive("POST /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nContent-Length: 50\r\n\r\n")
        #expect(harness.sent.hasPrefix("HTTP/1.1 503"))
        #expect(Self.header("Access-Control-Allow-Origin", in: harness.sent) == "https://app.example.com")
        #expect(Self.header("Access-Control-Expose-Headers", in: harness.sent)?.contains("Retry-After") == true)
    }

    @Test func anotherOriginOrNoPolicyGetsNone() {
        var other = ConnectionStateMachineTests.Harness(cors: Self.cors) { $0.limits.maxBodyBytes = 100 }
        other.receive("POST /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 1000\r\n\r\n")
        #expect(other.sent.hasPrefix("HTTP/1.1 413"))
        #expect(Self.header("Access-Control-Allow-Origin", in: other.sent) == nil)
        var none = ConnectionStateMachineTests.Harness { $0.limits.maxBodyBytes = 100 }
        none.receive("POST /classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nContent-Length: 1000\r\n\r\n")
        #expect(Self.header("Access-Control-Allow-Origin", in: none.sent) == nil)
        #expect(Self.header("Vary", in: none.sent) == nil)
    }
}
