import Foundation
import CLinux
import Glibc
import Logging
import Synchronization

/// An HTTP/1.1 server on one epoll event loop thread; handlers run as Swift tasks.
///
/// The loop owns every connection: it accepts, reads, parses, enforces every timeout and limit, and writes.
/// A complete request goes to the router in a task; the task posts its response back through a locked inbox
/// and an eventfd. One request per connection is handled at a time, so pipelined requests are answered in
/// order. A slow or stuck client costs a connection slot and nothing else.
public final class HTTPServer: @unchecked Sendable {
    public let configuration: HTTPServerConfiguration
    private let router: Router
    private let logger: Logger
    private let onResponse: (@Sendable (CompletedRequest) -> Void)?
    private var listener: Listener?
    /// The port bound (the kernel's choice when the configuration says 0).
    public let port: Int

    private let epoll: Int32
    private let wake: Int32
    private let inbox = Mutex<[Message]>([])
    private enum Message {
        case response(id: UInt64, HTTPResponse)
        case drain
    }

    // Loop thread only.
    private var connections: [UInt64: Connection] = [:]
    private var nextID: UInt64 = 1
    /// Set when a drain is asked for: the listener closes at `closeAt`, and `run` returns by `deadline`.
    private var drainSchedule: (closeAt: UInt64, deadline: UInt64)?
    private var isClosing: Bool { listener == nil }
    private var onDrain: (@Sendable () -> Void)?
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    private static let listenerToken: UInt64 = 0
    private static let wakeToken = UInt64.max

    /// Binds the listening socket (so the port is known before `run`).
    /// - Throws: `SocketError` when the address cannot be bound.
    public init(configuration: HTTPServerConfiguration, router: Router, logger: Logger,
                onResponse: (@Sendable (CompletedRequest) -> Void)? = nil) throws {
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.onResponse = onResponse
        let listener = try Listener(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        self.listener = listener
        port = listener.port
        epoll = try system("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        wake = try system("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        try add(listener.fd, token: Self.listenerToken, events: EPOLLIN.rawValue)
        try add(wake, token: Self.wakeToken, events: EPOLLIN.rawValue)
    }

    deinit {
        for connection in connections.values { Glibc.close(connection.fd) }
        Glibc.close(epoll)
        Glibc.close(wake)
        scratch.deallocate()
    }

    /// Serves until a drain completes. Call from a thread that may block.
    public func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        var lastTimerCheck: UInt64 = 0
        while true {
            let count = epoll_wait(epoll, &events, Int32(events.count), 100)
            let now = Self.now()
            if count > 0 {
                for event in events[0..<Int(count)] {
                    switch event.data.u64 {
                    case Self.listenerToken: acceptAll(now: now)
                    case Self.wakeToken: drainInbox(now: now)
                    default:
                        if let connection = connections[event.data.u64] { service(connection, events: event.events, now: now) }
                    }
                }
            }
            // Timeouts are whole seconds: a sweep every 50 ms is plenty, and keeps busy loops cheap.
            let afterEvents = Self.now()
            if afterEvents - lastTimerCheck > 50_000_000 {
                checkTimers(now: afterEvents)
                lastTimerCheck = afterEvents
            }
            if let drainSchedule, listener != nil, Self.now() >= drainSchedule.closeAt { closeListener(now: Self.now()) }
            if let drainSchedule, isClosing, connections.isEmpty || Self.now() > drainSchedule.deadline {
                for connection in Array(connections.values) { close(connection) }
                logger.info("drained", metadata: ["server.port": "\(port)"])
                return
            }
        }
    }

    /// Starts a graceful drain from any thread: `hook` runs first (flip readiness), then the listener closes,
    /// idle connections close, and `run` returns when in-flight requests are answered or the drain timeout passes.
    public func drain(_ hook: (@Sendable () -> Void)? = nil) {
        inbox.withLock {
            onDrainPending = hook
            $0.append(.drain)
        }
        signalWake()
    }

    private nonisolated(unsafe) var onDrainPending: (@Sendable () -> Void)?

    /// Runs until SIGTERM or SIGINT, then drains (calling `onDrain` first) and returns.
    public func runUntilSignalled(onDrain: (@Sendable () -> Void)? = nil) {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "http.signals")
        let sources = [SIGTERM, SIGINT].map { signalNumber in
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [weak self] in
                self?.logger.info("signal received, draining", metadata: ["signal": "\(signalNumber)"])
                self?.drain(onDrain)
            }
            source.resume()
            return source
        }
        run()
        sources.forEach { $0.cancel() }
    }

    // MARK: - The loop

    private func acceptAll(now: UInt64) {
        guard let listener else { return }
        while true {
            let fd = accept(listener.fd, nil, nil)
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            }
            if fd < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    logger.warning("accept failed", metadata: ["error": "\(SocketError(call: "accept4", code: errno))"])
                }
                return
            }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            guard connections.count < configuration.maxConnections else {
                let busy = Self.serialize(.problem(status: 503, detail: "too many connections; retry shortly",
                                                   headers: ["Retry-After": "1"]), close: true, isHead: false, requestID: nil)
                busy.withUnsafeBytes { _ = send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                Glibc.close(fd)
                continue
            }
            let transport: Transport
            if let tls = configuration.tls {
                guard let t = TLSTransport(fd: fd, configuration: tls) else { Glibc.close(fd); continue }
                transport = t
            } else {
                transport = PlainTransport(fd: fd)
            }
            let connection = Connection(id: nextID, fd: fd, transport: transport, limits: configuration.limits, now: now,
                                        handshaking: configuration.tls != nil)
            nextID += 1
            connections[connection.id] = connection
            do {
                try add(fd, token: connection.id, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
                connection.interest = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            } catch {
                connections[connection.id] = nil
                Glibc.close(fd)
            }
        }
    }

    private func service(_ connection: Connection, events: UInt32, now: UInt64) {
        let hangup = events & (EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0
        switch connection.state {
        case .handling(let context):
            // Nothing is read while a handler works; a hang-up means the client is gone.
            if hangup {
                context.cancel()
                close(connection)
            }
        case .writing:
            flush(connection, now: now)
        case .lingering:
            if case .closed = readChunk(connection) { close(connection) }
        case .handshaking:
            switch connection.transport.handshake() {
            case .done:
                connection.state = .reading
                readAndProcess(connection, now: now)
            case .wouldBlock(let wantWrite):
                setInterest(connection, wantWrite ? EPOLLOUT.rawValue : EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
            case .closed:
                close(connection)
            }
        case .reading:
            readAndProcess(connection, now: now)
        }
    }

    private func readChunk(_ connection: Connection) -> IOResult {
        connection.transport.read(into: scratch)
    }

    /// Reads what is there (at most 1 MiB per wake-up, to be fair) and parses it.
    private func readAndProcess(_ connection: Connection, now: UInt64) {
        var budget = 1 << 20
        while budget > 0, case .reading = connection.state {
            switch readChunk(connection) {
            case .done(let n):
                budget -= n
                if connection.requestStart == nil { connection.requestStart = now }
                if connection.headTime != nil { connection.bodyBytesRead += n }
                connection.parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                process(connection, now: now)
            case .wouldBlock(let wantWrite):
                if wantWrite { setInterest(connection, EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue) }
                return
            case .closed:
                close(connection)
                return
            }
        }
    }

    /// Turns buffered bytes into at most one dispatched request (or an error response).
    private func process(_ connection: Connection, now: UInt64) {
        while case .reading = connection.state {
            switch connection.parser.next() {
            case .needMore:
                return
            case .head(let head):
                connection.headTime = now
                connection.bodyBytesRead = 0
                if head.version == "HTTP/1.1", head.headers.tokens("Expect").contains("100-continue") {
                    connection.output += Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
                    writePending(connection, now: now)
                }
            case .request(let request):
                dispatch(request, on: connection, now: now)
                return
            case .error(let error):
                refuse(connection, error.response, now: now)
                return
            }
        }
    }

    private func dispatch(_ request: HTTPRequest, on connection: Connection, now: UInt64) {
        if isClosing {
            refuse(connection, .problem(status: 503, detail: "the server is shutting down; retry", headers: ["Retry-After": "1"]),
                   method: request.method, path: request.path, now: now)
            return
        }
        let requestID = request.headers["X-Request-Id"].flatMap(Self.validRequestID) ?? Self.makeRequestID()
        let context = RequestContext(requestID: requestID)
        connection.state = .handling(context)
        connection.current = (request.method, request.path, requestID, connection.requestStart ?? now, request.method == "HEAD")
        connection.closeAfterWrite = !request.head.keepAlive
        if let response = router.immediateResponse(request, context: context) {
            respond(connection, response, close: connection.closeAfterWrite, now: now)
            return
        }
        setInterest(connection, EPOLLRDHUP.rawValue)
        let id = connection.id, router = router
        Task {
            let response = await router.handle(request, context: context)
            self.post(.response(id: id, response))
        }
    }

    private func post(_ message: Message) {
        inbox.withLock { $0.append(message) }
        signalWake()
    }

    private func signalWake() {
        var one: UInt64 = 1
        _ = Glibc.write(wake, &one, 8)
    }

    private func drainInbox(now: UInt64) {
        var value: UInt64 = 0
        _ = Glibc.read(wake, &value, 8)
        let (messages, hook) = inbox.withLock { messages -> ([Message], (@Sendable () -> Void)?) in
            defer { messages.removeAll(); onDrainPending = nil }
            return (messages, onDrainPending)
        }
        for message in messages {
            switch message {
            case .response(let id, let response):
                // The connection may be gone (client hung up); the response is dropped.
                guard let connection = connections[id], connection.isHandling else { continue }
                respond(connection, response, close: connection.closeAfterWrite || isClosing, now: now)
            case .drain:
                guard drainSchedule == nil else { continue }
                hook?()
                let closeAt = now + UInt64(configuration.drainDelaySeconds * 1e9)
                drainSchedule = (closeAt, closeAt + UInt64(configuration.drainTimeoutSeconds * 1e9))
            }
        }
    }

    /// Stops accepting, closes idle connections, and tells half-sent requests to go elsewhere.
    private func closeListener(now: UInt64) {
        if let listener {
            epoll_ctl(epoll, EPOLL_CTL_DEL, listener.fd, nil)
            self.listener = nil
        }
        for connection in Array(connections.values) {
                    if connection.isIdle {
                        close(connection)
                    } else if case .reading = connection.state, !connection.parser.isInBody {
                        // Half a request head: nothing is in flight yet, so say so rather than wait for the rest.
                        refuse(connection, .problem(status: 503, detail: "the server is shutting down; retry",
                                                    headers: ["Retry-After": "1"]), now: now)
                    }
                }
    }

    private func respond(_ connection: Connection, _ response: HTTPResponse, close: Bool, now: UInt64) {
        let current = connection.current
        connection.output += Self.serialize(response, close: close, isHead: current?.isHead ?? false, requestID: current?.requestID)
        connection.closeAfterWrite = close
        connection.state = .writing
        if let current {
            let entry = CompletedRequest(method: current.method, path: current.path, status: response.status,
                                         bodyBytes: response.body.count,
                                         durationSeconds: Double(now - current.start) / 1e9, requestID: current.requestID)
            logger.info("request", metadata: [
                "http.method": "\(entry.method)", "http.path": "\(entry.path)", "http.status": "\(entry.status)",
                "http.bytes": "\(entry.bodyBytes)", "http.duration_ms": "\((entry.durationSeconds * 100_000).rounded() / 100)",
                "request.id": "\(entry.requestID)",
            ])
            onResponse?(entry)
        }
        connection.current = nil
        flush(connection, now: now)
    }

    /// Writes pending output; when all is written, goes back to reading (or closes).
    private func flush(_ connection: Connection, now: UInt64) {
        guard writePending(connection, now: now) else { return }
        if connection.closeAfterWrite {
            // Half-close and drain what the client still sends, so it reads the response before the socket resets.
            shutdown(connection.fd, Int32(SHUT_WR))
            connection.state = .lingering(until: now + 2_000_000_000)
            setInterest(connection, EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
            return
        }
        connection.state = .reading
        connection.requestStart = nil
        connection.headTime = nil
        connection.idleSince = now
        setInterest(connection, EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        if isClosing && connection.isIdle {
            close(connection)
            return
        }
        process(connection, now: now)  // pipelined requests already buffered
    }

    /// - Returns: true when nothing is left to write.
    @discardableResult
    private func writePending(_ connection: Connection, now: UInt64) -> Bool {
        while connection.outputOffset < connection.output.count {
            let result = connection.output.withUnsafeBytes {
                connection.transport.write(UnsafeRawBufferPointer(rebasing: $0[connection.outputOffset...]))
            }
            switch result {
            case .done(let n):
                connection.outputOffset += n
                connection.lastWriteProgress = now
            case .wouldBlock:
                if connection.lastWriteProgress == 0 { connection.lastWriteProgress = now }
                setInterest(connection, connection.interest | EPOLLOUT.rawValue)
                return false
            case .closed:
                if case .handling(let context) = connection.state { context.cancel() }
                close(connection)
                return false
            }
        }
        connection.output.removeAll(keepingCapacity: connection.output.count < 1 << 16)
        connection.outputOffset = 0
        connection.lastWriteProgress = 0
        return true
    }

    private func checkTimers(now: UInt64) {
        let c = configuration
        for connection in Array(connections.values) {
            switch connection.state {
            case .handling:
                continue
            case .writing:
                if connection.lastWriteProgress > 0 && Self.seconds(now - connection.lastWriteProgress) > c.writeTimeoutSeconds {
                    close(connection)
                }
            case .lingering(let until):
                if now > until { close(connection) }
            case .handshaking, .reading:
                if connection.parser.isIdle && connection.requestStart == nil {
                    if Self.seconds(now - connection.idleSince) > c.idleTimeoutSeconds { close(connection) }
                } else if let headTime = connection.headTime, connection.parser.isInBody {
                    let elapsed = Self.seconds(now - headTime)
                    if elapsed > c.bodyTimeoutSeconds
                        || (elapsed > c.bodyGraceSeconds && Double(connection.bodyBytesRead) / elapsed < c.minBodyBytesPerSecond) {
                        timeout(connection, "the request body arrived too slowly", now: now)
                    }
                } else if let start = connection.requestStart, Self.seconds(now - start) > c.headerTimeoutSeconds {
                    timeout(connection, "the request head did not arrive within \(Int(c.headerTimeoutSeconds)) s", now: now)
                }
            }
        }
    }

    private func timeout(_ connection: Connection, _ detail: String, now: UInt64) {
        if case .handshaking = connection.state { close(connection); return }
        refuse(connection, .problem(status: 408, detail: detail), now: now)
    }

    /// Answers a request no handler sees (malformed, too slow, or arriving while shutting down) and closes.
    private func refuse(_ connection: Connection, _ response: HTTPResponse, method: String = "?", path: String = "?",
                        now: UInt64) {
        connection.current = (method, path, Self.makeRequestID(), connection.requestStart ?? now, false)
        respond(connection, response, close: true, now: now)
    }

    private func close(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        epoll_ctl(epoll, EPOLL_CTL_DEL, connection.fd, nil)
        Glibc.close(connection.fd)
    }

    private func add(_ fd: Int32, token: UInt64, events: UInt32) throws {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        try system("epoll_ctl(ADD)") { epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }
    }

    private func setInterest(_ connection: Connection, _ events: UInt32) {
        guard connection.interest != events else { return }
        connection.interest = events
        var event = epoll_event(events: events, data: epoll_data_t(u64: connection.id))
        epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, &event)
    }

    // MARK: - Helpers

    static func serialize(_ response: HTTPResponse, close: Bool, isHead: Bool, requestID: String?) -> [UInt8] {
        var head = "HTTP/1.1 \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        var headers = response.headers
        if response.status >= 200 && response.status != 204 && response.status != 304 {
            headers.set("Content-Length", "\(response.body.count)")
        }
        if let requestID { headers.set("X-Request-Id", requestID) }
        if close { headers.set("Connection", "close") }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if !isHead { bytes += response.body }
        return bytes
    }

    /// Request ids: a counter scrambled by SplitMix64's finaliser from a random start, so ids are unique in the
    /// process, unpredictable enough for logs, and cost no system call.
    private static let idState = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    static func makeRequestID() -> String {
        var z = idState.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return String(z ^ (z >> 31), radix: 16).leftPadded(to: 16)
    }

    /// A client's id is echoed only if it is short and plain.
    static func validRequestID(_ id: String) -> String? {
        guard (1...128).contains(id.utf8.count),
              id.utf8.allSatisfy({ RequestParser.isTokenCharacter($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") })
        else { return nil }
        return id
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
    static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }
}

extension String {
    func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
