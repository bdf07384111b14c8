import Foundation
@testable import HTTPServer
import Testing

/// Streamed responses through the connection's state machine: chunked framing, HTTP/1.0, a client that leaves,
/// HEAD, and pipelined requests after a stream.
@Suite struct StreamingResponseTests {
    typealias Harness = ConnectionStateMachineTests.Harness

    static let stream = HTTPResponse(status: .ok, headers: ["Content-Type": "application/x-ndjson"], stream: BodyStream { _ in })

    static func started(_ h: Harness) -> [RequestContext] {
        h.log.compactMap { if case .stream(_, let context) = $0 { context } else { nil } }
    }

    @Test func piecesAreSentChunkedAsTheyComeAndTheNextRequestWaitsForTheEnd() {
        var h = Harness()
        h.receive(ConnectionStateMachineTests.get("/s") + ConnectionStateMachineTests.get("/next"))
        h.respond(Self.stream)
        #expect(Self.started(h).count == 1)
        #expect(h.sent.hasPrefix("HTTP/1.1 200 OK\r\n") && h.sent.contains("Transfer-Encoding: chunked\r\n"))
        #expect(!h.sent.contains("Content-Length") && h.completed.isEmpty)
        h.stream("{\"a\":1}\n")
        h.stream("")  // nothing to send: no empty chunk, which would end the body
        h.stream(String(repeating: "x", count: 300))
        #expect(h.sent.hasSuffix("\r\n\r\n8\r\n{\"a\":1}\n\r\n12c\r\n" + String(repeating: "x", count: 300) + "\r\n"))
        #expect(h.dispatched.count == 1 && h.machine.interest == [])
        h.endStream()
        #expect(h.sent.hasSuffix("\r\n0\r\n\r\n"))
        #expect(h.completed.map(\.bodyBytes) == [308] && h.completed.map(\.status) == [.ok])
        #expect(h.dispatched.map(\.request.path) == ["/s", "/next"] && !h.closed)
    }

    @Test func anHTTP10ClientGetsTheBytesUnframedAndTheConnectionClosesAtTheEnd() {
        var h = Harness()
        h.receive("GET /s HTTP/1.0\r\n\r\n")
        h.respond(Self.stream)
        #expect(!h.sent.contains("Transfer-Encoding") && !h.sent.contains("Content-Length") && h.sent.contains("Connection: close"))
        h.stream("one\n")
        h.endStream()
        #expect(h.sent.hasSuffix("\r\n\r\none\n") && h.shutDown)
    }

    @Test func aClientThatLeavesCancelsTheStreamAndLaterPiecesAreDropped() {
        var h = Harness()
        h.receive(ConnectionStateMachineTests.get("/s"))
        h.respond(Self.stream)
        let context = Self.started(h)[0]
        #expect(!context.isCancelled)
        h.peerClosed()
        #expect(context.isCancelled && h.closed)
        let before = h.sent
        h.stream("late")
        h.endStream()
        #expect(h.sent == before && h.completed.isEmpty)
    }

    @Test func headGetsTheHeadAloneAndNoStreamRuns() {
        var h = Harness()
        h.receive("HEAD /s HTTP/1.1\r\nHost: x\r\n\r\n")
        h.respond(Self.stream)
        #expect(Self.started(h).isEmpty && h.completed.count == 1 && h.machine.isIdle)
    }

    @Test func aStalledReaderIsCutOffByTheWriteTimeout() {
        var h = Harness()
        h.autoWrite = false
        h.receive(ConnectionStateMachineTests.get("/s"))
        h.respond(Self.stream)
        h.writeSome(5)
        h.machine.writeBlocked(wantWrite: true, now: h.now)
        h.advance(seconds: HTTPServerConfiguration().writeTimeoutSeconds + 1)
        h.tick()
        #expect(h.closed)
    }

    @Test func aStreamEndingDuringADrainClosesTheConnection() {
        var h = Harness()
        h.receive(ConnectionStateMachineTests.get("/s"))
        h.respond(Self.stream)
        h.drain()
        #expect(!h.closed)
        h.endStream()
        #expect(h.shutDown && h.sent.hasSuffix("0\r\n\r\n"))
    }
}

extension ConnectionStateMachineTests.Harness {
    mutating func stream(_ text: String) {
        var actions: [ConnectionStateMachine.Action] = []
        machine.streamed(Data(text.utf8), into: &actions)
        carryOut(actions)
    }

    mutating func endStream() {
        var actions: [ConnectionStateMachine.Action] = []
        machine.streamEnded(now: now, into: &actions)
        carryOut(actions)
    }
}
