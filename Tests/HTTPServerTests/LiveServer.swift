import Foundation
import HTTPServer
import Logging

/// A server on a free loopback port, running on its own thread for one test.
final class LiveServer: @unchecked Sendable {
    let server: HTTPServer
    private let done = DispatchSemaphore(value: 0)
    var port: Int { server.port }

    init(configure: (inout HTTPServerConfiguration) -> Void = { _ in }, signals: Bool = false,
         onDrain: (@Sendable () -> Void)? = nil, routes: (inout Router) -> Void = LiveServer.defaultRoutes) throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.drainDelaySeconds = 0
        configure(&configuration)
        var router = Router()
        routes(&router)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        server = try HTTPServer(configuration: configuration, router: router, logger: logger)
        let thread = Thread { [server, done] in
            if signals { server.runUntilSignalled(onDrain: onDrain) } else { server.run() }
            done.signal()
        }
        thread.start()
    }

    /// Drains and waits for `run` to return.
    func stop(timeout: Double = 30) -> Bool {
        server.drain()
        return waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Double) -> Bool {
        done.wait(timeout: .now() + timeout) == .success
    }

    static func defaultRoutes(_ router: inout Router) {
        router.add("GET", "/hello") { request, _ in .text("hello \(request.head.queryValue("name") ?? "world")") }
        router.add("POST", "/echo") { request, _ in
            var response = HTTPResponse.text("\(request.body.count)")
            if let type = request.headers["Content-Type"], let boundary = Multipart.boundary(contentType: type) {
                let parts = try Multipart.parse(request.body, boundary: boundary)
                response = .text(parts.map { "\($0.name ?? "-"):\($0.filename ?? "-"):\($0.body.count)" }.joined(separator: ","))
            }
            return response
        }
        router.add("GET", "/slow") { request, _ in
            let ms = Int(request.head.queryValue("ms") ?? "500") ?? 500
            try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
            return .text("slept \(ms)")
        }
    }
}

