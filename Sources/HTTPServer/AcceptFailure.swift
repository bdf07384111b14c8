import Glibc

/// What the accept loop does after `accept(2)` fails, by errno.
///
/// The listener is level-triggered: a failure that leaves a connection waiting leaves it readable, so returning to
/// `epoll_wait` and failing again would spin the loop and flood the log.
enum AcceptFailure: Equatable {
    /// EINTR, or a connection that failed before it was accepted (Linux hands pending network errors to `accept`):
    /// accept the next.
    case retry
    /// EAGAIN: no connection is waiting.
    case noneWaiting
    /// EMFILE, ENFILE: no descriptor for the connection. Free the spare one to answer it 503, or stop accepting
    /// for a moment.
    case outOfDescriptors
    /// ENOBUFS, ENOMEM or anything else: stop accepting for a moment.
    case pause

    init(errno code: Int32) {
        switch code {
        case EINTR, ECONNABORTED, EPROTO, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH, EPERM:
            self = .retry
        case EAGAIN, EWOULDBLOCK: self = .noneWaiting
        case EMFILE, ENFILE: self = .outOfDescriptors
        default: self = .pause
        }
    }
}
