import Foundation

/// One client connection's state; owned and touched by the event loop thread only.
final class Connection {
    enum State {
        case handshaking
        /// Reading a request (or waiting for one).
        case reading
        /// A handler has the request; nothing more is parsed until its response is written.
        case handling(RequestContext)
        /// Writing a response; reading resumes after it unless `closeAfterWrite`.
        case writing
        /// Response sent, write side shut: unread input is drained briefly so the client sees the response.
        case lingering(until: UInt64)
    }

    let id: UInt64
    let fd: Int32
    let transport: Transport
    var parser: RequestParser
    var state: State
    var output: [UInt8] = []
    var outputOffset = 0
    var closeAfterWrite = false
    /// epoll events currently asked for.
    var interest: UInt32 = 0

    /// When the current request's first byte (or, for the first request, the connection) arrived.
    var requestStart: UInt64?
    /// When the current request's head was complete, and bytes read since.
    var headTime: UInt64?
    var bodyBytesRead = 0
    var idleSince: UInt64
    var lastWriteProgress: UInt64 = 0
    /// The request being answered, for the access log.
    var current: (method: String, path: String, requestID: String, start: UInt64, isHead: Bool)?

    init(id: UInt64, fd: Int32, transport: Transport, limits: HTTPLimits, now: UInt64, handshaking: Bool) {
        self.id = id
        self.fd = fd
        self.transport = transport
        parser = RequestParser(limits: limits)
        state = handshaking ? .handshaking : .reading
        requestStart = now
        idleSince = now
    }

    var isHandling: Bool { if case .handling = state { true } else { false } }

    /// Between requests with nothing half-received or half-sent: safe to close when draining.
    var isIdle: Bool {
        if case .reading = state { return parser.isIdle && output.count == outputOffset }
        return false
    }
}
