import Foundation
import HTTPServer

/// A timeline answered as NDJSON (`Accept: application/x-ndjson`): one line per window as soon as it is
/// computed, then one line with the whole answer. The status goes out with the first window, so a failure
/// before it is an ordinary problem response and a failure after it is a last line `{"error": {...}}`.
enum TimelineStream {
    static let contentType = "application/x-ndjson"

    enum Event: Sendable {
        case window(Timeline.Window)
        case result(Classification)
    }

    /// Whether the client asked for the streamed form.
    static func isAccepted(_ request: HTTPRequest) -> Bool {
        (request.headers["Accept"] ?? "").lowercased().contains(contentType)
    }

    /// Runs `timeline` and answers with its events, once the first has come (or it has failed).
    /// - Throws: whatever `timeline` throws before its first window.
    static func response(_ timeline: @escaping @Sendable (_ onWindow: @escaping @Sendable (Timeline.Window) -> Void) async throws -> Classification)
        async throws -> HTTPResponse {
        let (events, continuation) = AsyncThrowingStream<Event, Error>.makeStream()
        Task {
            do {
                let answer = try await timeline { continuation.yield(.window($0)) }
                continuation.yield(.result(answer))
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        let reader = Reader(events)
        guard let first = try await reader.next() else { throw ServiceError.internalFailure }
        // X-Accel-Buffering: nginx, and the Kubernetes ingress built on it, would otherwise hold windows in its buffers.
        let headers: HTTPHeaders = ["Content-Type": contentType, "Cache-Control": "no-store", "X-Accel-Buffering": "no"]
        return HTTPResponse(status: .ok, headers: headers, stream: BodyStream { write in
            write(line(first))
            do {
                while let event = try await reader.next() { write(line(event)) }
            } catch {
                write(errorLine(error))
            }
        })
    }

    static func line(_ event: Event) -> Data {
        switch event {
        case .window(let window): encode(["window": window])
        case .result(let answer): encode(["result": answer])
        }
    }

    /// The problem the request would have been answered with, had the status not been sent yet.
    static func errorLine(_ error: Error) -> Data {
        let (status, detail): (HTTPStatus, String) = switch error {
        case let error as HTTPResponseError: (error.status, error.detail)
        case is CancellationError: (.clientClosedRequest, "the client closed the connection")
        default: (.internalServerError, "internal error")
        }
        return encode(["error": HTTPResponse.Problem(title: status.reasonPhrase, status: status.code, detail: detail)])
    }

    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ((try? encoder.encode(value)) ?? Data("{}".utf8)) + Data("\n".utf8)
    }

    /// The events' one consumer: first the handler, then the body stream.
    final class Reader: @unchecked Sendable {
        private var iterator: AsyncThrowingStream<Event, Error>.AsyncIterator
        init(_ events: AsyncThrowingStream<Event, Error>) { iterator = events.makeAsyncIterator() }
        func next() async throws -> Event? { try await iterator.next() }
    }
}
