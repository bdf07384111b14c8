import Synchronization

/// The bytes of request bodies that all connections may hold at once. Each body must fit `--max-upload-mb` alone,
/// but many at once could still exhaust memory (24 uploads of 60 MB took the server to 2.2 GB), so a request whose
/// body would not fit is refused with 503 before its body is read. Shared by every connection of a server.
public final class BodyBudget: Sendable {
    public let limit: Int
    private let used = Mutex(0)
    /// What a refused request is told, wherever the budget refuses it.
    public static let refusal = "the server holds as many uploads as it can; retry"

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes `bytes` if they fit. - Returns: false, taking nothing, if they do not.
    public func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard bytes <= limit - used else { return false }
            used += bytes
            return true
        }
    }

    public func release(_ bytes: Int) {
        used.withLock { $0 -= bytes }
    }

    /// Bytes held now.
    public var inUse: Int { used.withLock { $0 } }
}
