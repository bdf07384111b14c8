import Foundation

/// One connection's HTTP/1.1 life with no I/O in it, in the manner of swift-nio's `HTTPServerPipelineHandler`:
/// the event loop feeds it what happened (bytes read, a handler's response, write progress, the clock, a
/// drain) and carries out the actions it returns. Every timeout, the lingering close, 100-continue and the
/// order of pipelined requests live here, so they are tested with a fake clock and no sockets.
///
/// One request is handled at a time: bytes after a complete request stay in the parser until its response is
/// written, so pipelined requests are answered in order.
struct ConnectionStateMachine {
    enum Action {
        /// A complete request for the router. Nothing more is parsed until `respond`.
        case dispatch(HTTPRequest, RequestContext)
        /// There is output: write it, reporting back through `wrote` and `writeBlocked`.
        case write
        /// Everything is sent and the connection ends: shut the write side and drain what the peer still sends,
        /// so it reads the response before the socket resets.
        case shutdownWrite
        case close
        /// A request was answered, for the access log and metrics.
        case completed(CompletedRequest)
        /// The response's head is out: run its body stream, handing each piece to `streamed` and the end to
        /// `streamEnded`.
        case stream(BodyStream, RequestContext)
    }

    /// The readiness the loop should wait for; a hang-up is always watched.
    struct Interest: OptionSet, Equatable {
        let rawValue: UInt8
        static let read = Interest(rawValue: 1)
        static let write = Interest(rawValue: 2)
    }

    enum State {
        case handshaking
        /// Reading a request, or waiting for one.
        case reading
        /// A handler has the request.
        case handling(RequestContext)
        /// Writing a response; reading resumes after it unless the connection is to close.
        case writing
        /// A streamed response's head is sent and its body is still being produced.
        case streaming(RequestContext)
        /// Response sent and write side shut: unread input is drained until `until`.
        case lingering(until: UInt64)
        case closed
    }

    /// The timeouts of `HTTPServerConfiguration`, in nanoseconds where the clock is compared.
    struct Timeouts {
        var header: Double
        var body: Double
        var bodyGrace: Double
        var minBodyBytesPerSecond: Double
        var idle: Double
        var write: Double
        var linger: UInt64 = 2_000_000_000

        init(_ c: HTTPServerConfiguration) {
            header = c.headerTimeoutSeconds
            body = c.bodyTimeoutSeconds
            bodyGrace = c.bodyGraceSeconds
            minBodyBytesPerSecond = c.minBodyBytesPerSecond
            idle = c.idleTimeoutSeconds
            write = c.writeTimeoutSeconds
        }
    }

    /// The request being answered, for the access log and the response's request id.
    private struct Exchange {
        var method: String
        var path: String
        var requestID: String
        var start: UInt64
        var isHead: Bool
        /// HTTP/1.0 has no chunked coding: a stream to it ends with the connection.
        var isHTTP10 = false
        var status: HTTPStatus = .ok
        var streamedBytes = 0
    }

    private(set) var state: State
    private let timeouts: Timeouts
    private var parser: RequestParser
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var closeAfterWrite = false
    /// Set once the server drains: new requests are refused and responses close their connection.
    private var draining = false
    /// Where the transport said it must wait (TLS may need to read in order to write, and the reverse).
    private var transportWaits: Interest?
    private var exchange: Exchange?
    /// When the current request's first byte (for the first request: the connection) arrived.
    private var requestStart: UInt64?
    /// When the current request's head was complete, and body bytes read since.
    private var headTime: UInt64?
    private var bodyBytesRead = 0
    /// Shared with every connection of the server; `reserved` is this request's share, given back when it is
    /// answered or the connection closes.
    private let budget: BodyBudget
    private var reserved = 0
    /// The context of the request being handled, whose held bytes go back with the body's.
    private var handled: RequestContext?
    /// The largest body, which a coded body may also decode to.
    private let bodyLimit: Int
    private var idleSince: UInt64
    private var lastWriteProgress: UInt64?

    /// Applied to the refusals made here, which no router sees (a body over the limit, a full body budget,
    /// timeouts), so a page on a listed origin can read them.
    private let cors: CORSPolicy?
    /// The head of the request being read, once it is: where a refusal's origin comes from.
    private var headFields: HTTPHeaders?

    init(limits: HTTPLimits, timeouts: Timeouts, now: UInt64, handshaking: Bool, budget: BodyBudget, cors: CORSPolicy? = nil) {
        self.timeouts = timeouts
        self.budget = budget
        bodyLimit = limits.maxBodyBytes
        self.cors = cors
        parser = RequestParser(limits: limits)
        state = handshaking ? .handshaking : .reading
        requestStart = now
        idleSince = now
    }

    // MARK: - What the loop asks

    var interest: Interest {
        switch state {
        case .closed, .handling: []
        case .lingering: .read
        case .handshaking: transportWaits ?? .read
        case .reading: (transportWaits ?? .read).union(hasUnsentOutput ? .write : [])
        case .writing: transportWaits ?? .write
        case .streaming: transportWaits ?? (hasUnsentOutput ? .write : [])
        }
    }

    var isReading: Bool { if case .reading = state { true } else { false } }

    var hasUnsentOutput: Bool { outputOffset < output.count }

    func withUnsentOutput<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[outputOffset...])) }
    }

    /// Between requests with nothing half-received or half-sent: safe to close when draining.
    var isIdle: Bool { isReading && parser.isIdle && !hasUnsentOutput }

    // MARK: - Inputs

    mutating func handshakeCompleted() {
        transportWaits = nil
        if case .handshaking = state { state = .reading }
    }

    /// The transport could not go on until the socket is ready in this direction.
    mutating func transportBlocked(wantWrite: Bool) {
        transportWaits = wantWrite ? .write : .read
    }

    mutating func received(_ bytes: UnsafeRawBufferPointer, now: UInt64, into actions: inout [Action]) {
        transportWaits = nil
        guard isReading else { return }  // lingering: the bytes are drained unread
        if requestStart == nil { requestStart = now }
        if headTime != nil {
            bodyBytesRead += bytes.count
            // A chunked body has no declared length: it is counted as it arrives.
            guard reserveBody(bodyBytesRead) else { return refuse(Self.tooManyBodies, now: now, into: &actions) }
        }
        parser.append(bytes)
        parse(now: now, into: &actions)
    }

    /// The peer closed or reset the connection: a handler still working on its request is told to stop.
    mutating func peerClosed(into actions: inout [Action]) {
        switch state {
        case .handling(let context), .streaming(let context): context.cancel()
        default: break
        }
        close(into: &actions)
    }

    /// A handler's answer. Dropped if the connection has moved on (its client went away).
    mutating func respond(_ response: HTTPResponse, now: UInt64, into actions: inout [Action]) {
        guard case .handling(let context) = state else { return }
        if let stream = response.stream, response.status.allowsBody, let exchange, !exchange.isHead {
            startStream(response, stream, context: context, exchange: exchange, into: &actions)
        } else {
            answer(response, close: closeAfterWrite || draining, now: now, into: &actions)
        }
    }

    /// A piece of the streamed body. Dropped if the response is no longer streaming (its client went away).
    mutating func streamed(_ data: Data, into actions: inout [Action]) {
        guard case .streaming = state, !data.isEmpty, let isHTTP10 = exchange?.isHTTP10 else { return }
        output += isHTTP10 ? Array(data) : HTTPResponse.chunk(data)
        exchange?.streamedBytes += data.count
        actions.append(.write)
    }

    /// The streamed body is complete: the last chunk goes out, then the connection carries on as after any response.
    mutating func streamEnded(now: UInt64, into actions: inout [Action]) {
        guard case .streaming = state, let exchange else { return }
        releaseBody()
        if exchange.isHTTP10 { closeAfterWrite = true } else { output += HTTPResponse.lastChunk }
        if draining { closeAfterWrite = true }
        state = .writing
        complete(exchange, status: exchange.status, bodyBytes: exchange.streamedBytes, now: now, into: &actions)
        self.exchange = nil
        if hasUnsentOutput { actions.append(.write) } else { responseSent(now: now, into: &actions) }
    }

    mutating func wrote(_ count: Int, now: UInt64, into actions: inout [Action]) {
        transportWaits = nil
        outputOffset += count
        lastWriteProgress = now
        guard !hasUnsentOutput else { return }
        output.removeAll(keepingCapacity: output.count < 1 << 16)
        outputOffset = 0
        lastWriteProgress = nil
        if case .writing = state { responseSent(now: now, into: &actions) }
    }

    mutating func writeBlocked(wantWrite: Bool, now: UInt64) {
        transportWaits = wantWrite ? .write : .read
        if lastWriteProgress == nil { lastWriteProgress = now }
    }

    /// The clock: enforces every timeout. The loop calls it a few times a second.
    mutating func tick(now: UInt64, into actions: inout [Action]) {
        switch state {
        case .handling, .closed:
            return
        case .writing, .streaming:
            if let progress = lastWriteProgress, Self.seconds(now - progress) > timeouts.write { close(into: &actions) }
        case .lingering(let until):
            if now > until { close(into: &actions) }
        case .handshaking, .reading:
            if parser.isIdle && requestStart == nil {
                if Self.seconds(now - idleSince) > timeouts.idle { close(into: &actions) }
            } else if let headTime, parser.isInBody {
                let elapsed = Self.seconds(now - headTime)
                if elapsed > timeouts.body
                    || (elapsed > timeouts.bodyGrace && Double(bodyBytesRead) / elapsed < timeouts.minBodyBytesPerSecond) {
                    timedOut("the request body arrived too slowly", now: now, into: &actions)
                }
            } else if let requestStart, Self.seconds(now - requestStart) > timeouts.header {
                timedOut("the request head did not arrive within \(Int(timeouts.header)) s", now: now, into: &actions)
            }
        }
    }

    /// The server stops accepting: idle connections close, a half-sent head is told to go elsewhere, and
    /// requests already in flight are answered with `Connection: close`.
    mutating func drain(now: UInt64, into actions: inout [Action]) {
        draining = true
        if isIdle {
            close(into: &actions)
        } else if isReading, !parser.isInBody {
            refuse(Self.shuttingDown, now: now, into: &actions)
        }
    }

    // MARK: - Transitions

    /// Turns buffered bytes into at most one dispatched request (or a refusal).
    private mutating func parse(now: UInt64, into actions: inout [Action]) {
        while isReading {
            switch parser.next() {
            case .needMore:
                return
            case .head(let head):
                headTime = now
                headFields = head.headers
                bodyBytesRead = 0
                guard reserveBody(parser.declaredBodyLength) else {
                    return refuse(Self.tooManyBodies, method: head.method, path: head.path, now: now, into: &actions)
                }
                if head.version == "HTTP/1.1", head.headers.tokens("Expect").contains("100-continue") {
                    output += Self.continueLine
                    actions.append(.write)
                }
            case .request(let request):
                dispatch(request, now: now, into: &actions)
                return
            case .error(let error):
                refuse(error.response, requestHeaders: error.requestHeaders, now: now, into: &actions)
                return
            }
        }
    }

    private mutating func dispatch(_ request: HTTPRequest, now: UInt64, into actions: inout [Action]) {
        guard !draining else {
            refuse(Self.shuttingDown, method: request.method, path: request.path, now: now, into: &actions)
            return
        }
        headFields = nil
        let requestID = request.headers["X-Request-Id"].flatMap(RequestID.validated) ?? RequestID.make()
        let context = RequestContext(requestID: requestID, budget: budget, bodyLimit: bodyLimit)
        handled = context
        state = .handling(context)
        exchange = Exchange(method: request.method, path: request.path, requestID: requestID,
                            start: requestStart ?? now, isHead: request.method == "HEAD", isHTTP10: request.head.version == "HTTP/1.0")
        closeAfterWrite = !request.head.keepAlive
        actions.append(.dispatch(request, context))
    }

    private mutating func timedOut(_ detail: String, now: UInt64, into actions: inout [Action]) {
        if case .handshaking = state { return close(into: &actions) }
        refuse(.problem(status: .requestTimeout, detail: detail), now: now, into: &actions)
    }

    /// Answers a request no handler sees (malformed, too slow, or arriving while draining) and closes.
    private mutating func refuse(_ response: HTTPResponse, method: String = "?", path: String = "?",
                                 requestHeaders: HTTPHeaders? = nil, now: UInt64, into actions: inout [Action]) {
        var response = response
        cors?.decorate(&response, requestHeaders: requestHeaders ?? headFields ?? HTTPHeaders())
        exchange = Exchange(method: method, path: path, requestID: RequestID.make(), start: requestStart ?? now, isHead: false)
        answer(response, close: true, now: now, into: &actions)
    }

    private mutating func answer(_ response: HTTPResponse, close: Bool, now: UInt64, into actions: inout [Action]) {
        releaseBody()
        output += response.encoded(close: close, isHead: exchange?.isHead ?? false, requestID: exchange?.requestID)
        closeAfterWrite = close
        state = .writing
        if let exchange { complete(exchange, status: response.status, bodyBytes: response.body.count, now: now, into: &actions) }
        exchange = nil
        actions.append(.write)
    }

    private mutating func startStream(_ response: HTTPResponse, _ stream: BodyStream, context: RequestContext, exchange: Exchange,
                                      into actions: inout [Action]) {
        closeAfterWrite = closeAfterWrite || draining || exchange.isHTTP10
        output += response.encodedHead(close: closeAfterWrite, requestID: exchange.requestID,
                                       framing: exchange.isHTTP10 ? .none : .chunked)
        self.exchange?.status = response.status
        state = .streaming(context)
        actions.append(.write)
        actions.append(.stream(stream, context))
    }

    private func complete(_ exchange: Exchange, status: HTTPStatus, bodyBytes: Int, now: UInt64, into actions: inout [Action]) {
        actions.append(.completed(CompletedRequest(
            method: exchange.method, path: exchange.path, status: status, bodyBytes: bodyBytes,
            durationSeconds: Self.seconds(now - exchange.start), requestID: exchange.requestID)))
    }

    private mutating func responseSent(now: UInt64, into actions: inout [Action]) {
        if closeAfterWrite {
            state = .lingering(until: now + timeouts.linger)
            actions.append(.shutdownWrite)
            return
        }
        state = .reading
        requestStart = nil
        headTime = nil
        idleSince = now
        if draining && isIdle { return close(into: &actions) }
        parse(now: now, into: &actions)  // pipelined requests already buffered
    }

    private mutating func close(into actions: inout [Action]) {
        if case .closed = state { return }
        releaseBody()
        state = .closed
        actions.append(.close)
    }

    /// Holds at least `bytes` of the budget for the current request. - Returns: false if they do not fit.
    private mutating func reserveBody(_ bytes: Int) -> Bool {
        guard bytes > reserved else { return true }
        guard budget.reserve(bytes - reserved) else { return false }
        reserved = bytes
        return true
    }

    private mutating func releaseBody() {
        handled?.releaseHeld()
        handled = nil
        guard reserved > 0 else { return }
        budget.release(reserved)
        reserved = 0
    }

    private static let tooManyBodies = HTTPResponse.problem(
        status: .serviceUnavailable, detail: BodyBudget.refusal, headers: ["Retry-After": "1"])
    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    private static let shuttingDown = HTTPResponse.problem(status: .serviceUnavailable, detail: "the server is shutting down; retry",
                                                           headers: ["Retry-After": "1"])

    static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }
}
