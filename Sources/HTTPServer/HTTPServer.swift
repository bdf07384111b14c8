import Foundation
import CLinux
import Glibc
import Logging
import Synchronization

/// An HTTP/1.1 server on one epoll event loop thread; handlers run as Swift tasks.
///
/// This file is the I/O: the loop accepts, reads and writes, and hands every result to the connection's
/// `ConnectionStateMachine`, which holds the protocol (parsing, timeouts, limits, drain) and says what to do
/// next. A request for an inline route is answered on the loop; any other runs in a task, which posts its
/// response back through a locked inbox and an eventfd. A slow or stuck client costs a connection slot and
/// nothing else.
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
        case streamed(id: UInt64, Data)
        case streamEnded(id: UInt64)
        case drain
    }

    // Loop thread only.
    private var connections: [UInt64: Connection] = [:]
    /// The actions of the connection being served, reused so a request costs no allocation here.
    private var actions: [ConnectionStateMachine.Action] = []
    private let timeouts: ConnectionStateMachine.Timeouts
    /// Request body bytes held by all connections.
    public let bodyBudget: BodyBudget
    private var nextID: UInt64 = 1
    /// Set when a drain is asked for: the listener closes at `closeAt`, and `run` returns by `deadline`.
    private var drainSchedule: (closeAt: UInt64, deadline: UInt64)?
    private var isClosing: Bool { listener == nil }
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    /// Held open so that, out of descriptors, the loop can free one to answer a waiting connection 503 rather than
    /// leave it waiting; -1 while it cannot be reopened.
    private var spareFD: Int32 = -1
    private var acceptGate = AcceptGate()
    private var descriptorRefusals = EventThrottle(intervalNanoseconds: 10_000_000_000)
    private var acceptPauses = EventThrottle(intervalNanoseconds: 10_000_000_000)
    private let openCount = Atomic<Int>(0)
    private let refusalCounts = Mutex<[ConnectionRefusal: Int]>([:])

    /// Why a connection was answered 503 and closed as it arrived.
    public enum ConnectionRefusal: String, CaseIterable, Sendable {
        /// `maxConnections` were open.
        case limit
        /// The process had no file descriptor to spare for it.
        case descriptors
    }

    /// Connections open now (from any thread).
    public var openConnections: Int { openCount.load(ordering: .relaxed) }

    /// Connections refused for `reason` since the server started (from any thread).
    public func refusedConnections(_ reason: ConnectionRefusal) -> Int { refusalCounts.withLock { $0[reason] ?? 0 } }

    private static let listenerToken: UInt64 = 0
    private static let wakeToken = UInt64.max

    /// Binds the listening socket (so the port is known before `run`).
    /// - Parameter bodyBudget: shared with what else holds uploads (jobs); by default one of
    ///   `configuration.bodyBudgetBytes` for the server alone.
    /// - Throws: `SocketError` when the address cannot be bound.
    public init(configuration: HTTPServerConfiguration, router: Router, logger: Logger, bodyBudget: BodyBudget? = nil,
                onResponse: (@Sendable (CompletedRequest) -> Void)? = nil) throws {
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.onResponse = onResponse
        timeouts = ConnectionStateMachine.Timeouts(configuration)
        self.bodyBudget = bodyBudget ?? BodyBudget(limit: configuration.bodyBudgetBytes)
        let listener = try Listener(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        self.listener = listener
        port = listener.port
        epoll = try system("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        wake = try system("eventfd") { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) }
        try add(listener.fd, token: Self.listenerToken, events: EPOLLIN.rawValue)
        try add(wake, token: Self.wakeToken, events: EPOLLIN.rawValue)
        spareFD = Self.openSpare()
    }

    deinit {
        for connection in connections.values { Glibc.close(connection.fd) }
        Glibc.close(epoll)
        Glibc.close(wake)
        if spareFD >= 0 { Glibc.close(spareFD) }
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
            if acceptGate.resumes(now: afterEvents) { resumeAccepting() }
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
        guard let listener, !acceptGate.isPaused else { return }
        while true {
            let fd = Self.accept(listener)
            guard fd >= 0 else {
                let code = errno
                switch acceptGate.failed(errno: code, hasSpare: spareFD >= 0, now: now) {
                case .acceptNext: continue
                case .stop: return
                case .refuseWithSpare:
                    if refuseWithSpare(listener, now: now) { continue }
                    return
                case .pause:
                    pauseAccepting(now: now, code)
                    return
                }
            }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            guard connections.count < configuration.maxConnections else {
                refuse(fd, .limit, detail: "too many connections; retry shortly")
                continue
            }
            let transport: Transport
            if let tls = configuration.tls {
                guard let t = TLSTransport(fd: fd, configuration: tls) else { Glibc.close(fd); continue }
                transport = t
            } else {
                transport = PlainTransport(fd: fd)
            }
            let machine = ConnectionStateMachine(limits: configuration.limits, timeouts: timeouts, now: now,
                                                 handshaking: configuration.tls != nil, budget: bodyBudget, cors: router.cors)
            let connection = Connection(id: nextID, fd: fd, transport: transport, machine: machine,
                                        registered: Self.events(for: machine.interest))
            nextID += 1
            do {
                try add(fd, token: connection.id, events: connection.registered)
                connections[connection.id] = connection
                openCount.store(connections.count, ordering: .relaxed)
            } catch {
                Glibc.close(fd)
            }
        }
    }

    /// A waiting connection's descriptor, non-blocking and close-on-exec, or -1 with errno set.
    private static func accept(_ listener: Listener) -> Int32 {
        let fd = Glibc.accept(listener.fd, nil, nil)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        return fd
    }

    private static func openSpare() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    /// Answers a connection 503 and closes it.
    private func refuse(_ fd: Int32, _ reason: ConnectionRefusal, detail: String) {
        refusalCounts.withLock { $0[reason, default: 0] += 1 }
        HTTPResponse.problem(status: .serviceUnavailable, detail: detail, headers: ["Retry-After": "1"]).sendRefusal(on: fd)
        Glibc.close(fd)
    }

    /// Out of descriptors: frees the spare to accept one waiting connection and answer it 503. Returns whether one
    /// was answered; when none was, the gate decides as for any failed accept, now without a spare.
    private func refuseWithSpare(_ listener: Listener, now: UInt64) -> Bool {
        Glibc.close(spareFD)
        let fd = Self.accept(listener)
        let code = errno
        if fd >= 0 { refuse(fd, .descriptors, detail: "the server has no file descriptors to spare; retry shortly") }
        spareFD = Self.openSpare()
        if fd >= 0, let count = descriptorRefusals.record(now: now) {
            logger.warning("out of file descriptors: connections answered 503 (raise the open-file limit or lower --max-connections)",
                           metadata: ["connections.refused": "\(count)"])
        }
        if fd < 0, acceptGate.failed(errno: code, hasSpare: false, now: now) == .pause { pauseAccepting(now: now, code) }
        return fd >= 0
    }

    /// Stops watching the listener while the gate's pause lasts, so a failure that repeats at once does not spin
    /// the loop.
    private func pauseAccepting(now: UInt64, _ code: Int32) {
        guard let listener else { return }
        var event = epoll_event(events: 0, data: epoll_data_t(u64: Self.listenerToken))
        epoll_ctl(epoll, EPOLL_CTL_MOD, listener.fd, &event)
        if let count = acceptPauses.record(now: now) {
            logger.warning("accept failed; pausing new connections for 100 ms",
                           metadata: ["error": "\(SocketError(call: "accept", code: code))", "accept.failures": "\(count)"])
        }
    }

    private func resumeAccepting() {
        if spareFD < 0 { spareFD = Self.openSpare() }
        guard let listener else { return }
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: Self.listenerToken))
        epoll_ctl(epoll, EPOLL_CTL_MOD, listener.fd, &event)
    }

    /// Does the I/O a readiness event allows, feeding each result to the connection's state machine.
    private func service(_ connection: Connection, events: UInt32, now: UInt64) {
        let hangup = events & (EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0
        switch connection.machine.state {
        case .handling:
            // Nothing is read while a handler works; a hang-up means the client is gone.
            if hangup { connection.machine.peerClosed(into: &actions) }
        case .writing:
            actions.append(.write)
        case .streaming:
            if hangup {
                connection.machine.peerClosed(into: &actions)
            } else if connection.machine.hasUnsentOutput {
                actions.append(.write)
            }
        case .lingering:
            if case .closed = connection.transport.read(into: scratch) { connection.machine.peerClosed(into: &actions) }
        case .handshaking:
            switch connection.transport.handshake() {
            case .done:
                connection.machine.handshakeCompleted()
                read(connection, now: now)
            case .wouldBlock(let wantWrite): connection.machine.transportBlocked(wantWrite: wantWrite)
            case .closed: connection.machine.peerClosed(into: &actions)
            }
        case .reading:
            if connection.machine.hasUnsentOutput { actions.append(.write) }
            read(connection, now: now)
        case .closed:
            break
        }
        perform(connection, now: now)
    }

    /// Reads what is there, at most 1 MiB per wake-up so one client cannot starve the rest.
    private func read(_ connection: Connection, now: UInt64) {
        var budget = 1 << 20
        while budget > 0, connection.machine.isReading {
            switch connection.transport.read(into: scratch) {
            case .done(let n):
                budget -= n
                connection.machine.received(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), now: now, into: &actions)
            case .wouldBlock(let wantWrite):
                connection.machine.transportBlocked(wantWrite: wantWrite)
                return
            case .closed:
                connection.machine.peerClosed(into: &actions)
                return
            }
        }
    }

    /// Carries out the machine's actions in order; writing and answering inline routes add more.
    private func perform(_ connection: Connection, now: UInt64) {
        var index = 0
        var open = true
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .completed(let entry):
                accessLog(entry)
            case .close:
                close(connection)
                open = false
            case _ where !open:
                continue
            case .write:
                write(connection, now: now)
            case .shutdownWrite:
                shutdown(connection.fd, Int32(SHUT_WR))
            case .dispatch(let request, let context):
                switch router.dispatch(request, context: context) {
                case .now(let response):
                    connection.machine.respond(response, now: now, into: &actions)
                case .later(let work):
                    let id = connection.id
                    Task {
                        let response = await work()
                        self.post(.response(id: id, response))
                    }
                }
            case .stream(let stream, _):
                let id = connection.id
                Task {
                    await stream.produce { data in self.post(.streamed(id: id, data)) }
                    self.post(.streamEnded(id: id))
                }
            }
        }
        actions.removeAll(keepingCapacity: true)
        guard open else { return }
        let events = Self.events(for: connection.machine.interest)
        if events != connection.registered {
            connection.registered = events
            var event = epoll_event(events: events, data: epoll_data_t(u64: connection.id))
            epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, &event)
        }
    }

    private func write(_ connection: Connection, now: UInt64) {
        while connection.machine.hasUnsentOutput {
            switch connection.machine.withUnsentOutput({ connection.transport.write($0) }) {
            case .done(let n):
                connection.machine.wrote(n, now: now, into: &actions)
            case .wouldBlock(let wantWrite):
                connection.machine.writeBlocked(wantWrite: wantWrite, now: now)
                return
            case .closed:
                connection.machine.peerClosed(into: &actions)
                return
            }
        }
    }

    private func accessLog(_ entry: CompletedRequest) {
        logger.info("request", metadata: [
            "http.method": "\(entry.method)", "http.path": "\(entry.path)", "http.status": "\(entry.status)",
            "http.bytes": "\(entry.bodyBytes)", "http.duration_ms": "\((entry.durationSeconds * 100_000).rounded() / 100)",
            "request.id": "\(entry.requestID)",
        ])
        onResponse?(entry)
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
                guard let connection = connections[id] else { continue }
                connection.machine.respond(response, now: now, into: &actions)
                perform(connection, now: now)
            case .streamed(let id, let data):
                guard let connection = connections[id] else { continue }
                connection.machine.streamed(data, into: &actions)
                perform(connection, now: now)
            case .streamEnded(let id):
                guard let connection = connections[id] else { continue }
                connection.machine.streamEnded(now: now, into: &actions)
                perform(connection, now: now)
            case .drain:
                guard drainSchedule == nil else { continue }
                hook?()
                let closeAt = now + UInt64(configuration.drainDelaySeconds * 1e9)
                drainSchedule = (closeAt, closeAt + UInt64(configuration.drainTimeoutSeconds * 1e9))
            }
        }
    }

    /// Stops accepting; each connection then finishes what it has in flight and closes.
    private func closeListener(now: UInt64) {
        if let listener {
            epoll_ctl(epoll, EPOLL_CTL_DEL, listener.fd, nil)
            self.listener = nil
        }
        for connection in Array(connections.values) {
            connection.machine.drain(now: now, into: &actions)
            perform(connection, now: now)
        }
    }

    private func checkTimers(now: UInt64) {
        for connection in Array(connections.values) {
            connection.machine.tick(now: now, into: &actions)
            perform(connection, now: now)
        }
    }

    private func close(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        openCount.store(connections.count, ordering: .relaxed)
        epoll_ctl(epoll, EPOLL_CTL_DEL, connection.fd, nil)
        Glibc.close(connection.fd)
    }

    private func add(_ fd: Int32, token: UInt64, events: UInt32) throws {
        var event = epoll_event(events: events, data: epoll_data_t(u64: token))
        try system("epoll_ctl(ADD)") { epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }
    }

    private static func events(for interest: ConnectionStateMachine.Interest) -> UInt32 {
        var events = EPOLLRDHUP.rawValue
        if interest.contains(.read) { events |= EPOLLIN.rawValue }
        if interest.contains(.write) { events |= EPOLLOUT.rawValue }
        return events
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
