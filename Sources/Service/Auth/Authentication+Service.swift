import Dispatch
import Foundation
import HTTPServer
import Logging

extension Authentication {
    static let refusalsMetric = "r2plus1d_auth_refusals_total"

    /// The router's admission check for `configuration.authTokenFile`, counting refusals and re-reading the file
    /// on SIGHUP; nil when no token file is configured (every route open).
    /// - Throws: `AuthError` when the file cannot be read or holds no token.
    static func admission(_ configuration: ServiceConfiguration, metrics: MetricsRegistry,
                          logger: Logger) throws -> (@Sendable (HTTPRequest) -> HTTPResponse?)? {
        guard let path = configuration.authTokenFile else { return nil }
        let tokens = try BearerTokens(path: path)
        let authentication = Authentication(tokens: tokens, protectMetrics: configuration.protectMetrics)
        metrics.counter(refusalsMetric, help: "Requests refused for a missing or invalid bearer token, by reason.")
        reloadOnHangup(tokens, logger: logger)
        logger.info("bearer tokens required", metadata: ["auth.tokens": "\(tokens.count)", "auth.metrics_open": "\(!configuration.protectMetrics)"])
        return { request in
            guard case .refuse(let reason) = authentication.decide(path: request.path, authorization: request.headers["Authorization"]) else {
                return nil
            }
            metrics.increment(refusalsMetric, labels: ["reason": reason])
            return refusal(path: request.path, reason: reason)
        }
    }

    /// SIGHUP re-reads the token file; a file that cannot be read leaves the tokens in use, and says so.
    private static func reloadOnHangup(_ tokens: BearerTokens, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try tokens.reload()
                logger.info("bearer tokens re-read", metadata: ["auth.tokens": "\(tokens.count)"])
            } catch {
                logger.error("bearer tokens kept: \(error)")
            }
        }
        source.resume()
        hangupSources.keep(source)
    }
}

/// Kept for the process's life: a signal source that is released stops delivering.
private let hangupSources = HangupSources()

private final class HangupSources: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }
}
