import Synchronization

/// What a handler knows about the request beyond its bytes.
public final class RequestContext: Sendable {
    /// The client's `X-Request-Id`, or one made up; echoed on the response.
    public let requestID: String
    private let cancelled = Atomic<Bool>(false)

    public init(requestID: String) {
        self.requestID = requestID
    }

    /// True once the client has gone away: work for this request can be dropped.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func cancel() { cancelled.store(true, ordering: .releasing) }
}
