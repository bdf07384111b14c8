import Glibc

/// What the accept loop does after `accept(2)` fails, and when it accepts again: its decisions, without sockets.
///
/// The listener is level-triggered: a failure that leaves a connection waiting leaves it readable, so returning to
/// `epoll_wait` and failing again would spin the loop and flood the log.
struct AcceptGate {
    static let pauseNanoseconds: UInt64 = 100_000_000

    enum Step: Equatable {
        /// EINTR, or a connection that failed before it was accepted (Linux hands pending network errors to
        /// `accept`): accept the next.
        case acceptNext
        /// EAGAIN: no connection is waiting.
        case stop
        /// EMFILE, ENFILE with the spare descriptor open: free it to accept one waiting connection and answer it 503.
        case refuseWithSpare
        /// Out of descriptors without a spare, ENOBUFS, ENOMEM or anything else: stop watching the listener until
        /// `resumes` says so.
        case pause
    }

    /// When a pause ends; nil while accepting.
    private var resumesAt: UInt64?
    var isPaused: Bool { resumesAt != nil }

    /// The step after `accept` failed with `code` at `now`; `hasSpare`: whether the spare descriptor is open.
    mutating func failed(errno code: Int32, hasSpare: Bool, now: UInt64) -> Step {
        switch code {
        case EINTR, ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, EPERM:
            return .acceptNext
        case EAGAIN, EWOULDBLOCK: return .stop
        case EMFILE where hasSpare, ENFILE where hasSpare: return .refuseWithSpare
        default:
            resumesAt = now + Self.pauseNanoseconds
            return .pause
        }
    }

    /// Whether a pause has run out at `now`, which ends it.
    mutating func resumes(now: UInt64) -> Bool {
        guard let resumesAt, now >= resumesAt else { return false }
        self.resumesAt = nil
        return true
    }
}
