import Foundation
import Synchronization

/// What a handler knows about the request beyond its bytes.
public final class RequestContext: Sendable {
    /// The client's `X-Request-Id`, or one made up; echoed on the response.
    public let requestID: String
    private let cancelled = Atomic<Bool>(false)
    /// The server's body budget, which bytes a handler makes from the body (a decoded Content-Encoding) are
    /// charged to as the body's own are, until the response is sent.
    private let budget: BodyBudget?
    /// Bytes held, or nil once the exchange has ended and they were given back.
    private let held = Mutex<Int?>(0)
    /// The largest body the server takes (`--max-upload-mb`), which a coded body may decode to.
    private let bodyLimit: Int

    public init(requestID: String, budget: BodyBudget? = nil, bodyLimit: Int = .max) {
        self.requestID = requestID
        self.budget = budget
        self.bodyLimit = bodyLimit
    }

    /// `request`'s body with its Content-Encoding undone, within the upload limit, the decoded bytes held
    /// against the body budget (`ContentCoding.decodeBody`).
    public func decodedBody(of request: HTTPRequest) throws -> Data {
        try ContentCoding.decodeBody(request.body, headers: request.headers, limit: bodyLimit, context: self)
    }

    /// The most bytes `hold` could ever take, with nothing else held (nil: no budget, no bound).
    public var holdLimit: Int? { budget?.limit }

    /// True once the client has gone away: work for this request can be dropped.
    public var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    func cancel() { cancelled.store(true, ordering: .releasing) }

    /// Charges `bytes` more to the server's body budget until this request is answered.
    /// - Returns: false, charging nothing, when they do not fit or the exchange is over.
    public func hold(_ bytes: Int) -> Bool {
        held.withLock { held in
            guard let current = held else { return false }
            if let budget, !budget.reserve(bytes) { return false }
            held = current + bytes
            return true
        }
    }

    /// Gives back what `hold` took; later calls to `hold` fail.
    func releaseHeld() {
        held.withLock { held in
            if let bytes = held, bytes > 0 { budget?.release(bytes) }
            held = nil
        }
    }
}
