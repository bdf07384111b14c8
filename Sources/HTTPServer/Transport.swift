import COpenSSL
import Glibc

/// What a non-blocking read or write did.
enum IOResult {
    case done(Int)
    /// Try again when the socket is readable (or writable, for `wantWrite`).
    case wouldBlock(wantWrite: Bool)
    /// The peer closed the connection (or it broke).
    case closed
}

/// Bytes in and out of one connection: plain TCP or TLS over it.
protocol Transport: AnyObject {
    /// Drives the TLS handshake; plain TCP is always ready.
    func handshake() -> IOResult
    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult
    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult
}

final class PlainTransport: Transport {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func handshake() -> IOResult { .done(0) }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .done(n) }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock(wantWrite: false) : .closed
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .done(n) }
            if errno == EINTR { continue }
            return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock(wantWrite: true) : .closed
        }
    }
}

/// Server-side TLS 1.2+ settings: certificate chain and private key, loaded once.
public final class TLSConfiguration: @unchecked Sendable {
    let context: OpaquePointer

    /// - Throws: `TLSError` when the files cannot be read or do not match.
    public init(certificateChainPath: String, privateKeyPath: String) throws {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.setup("SSL_CTX_new failed") }
        self.context = context
        _ = copenssl_set_min_proto_version(context, TLS1_2_VERSION)
        guard SSL_CTX_use_certificate_chain_file(context, certificateChainPath) == 1 else {
            throw TLSError.setup("cannot load the certificate chain from \(certificateChainPath): \(TLSError.lastError())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.setup("cannot load the private key from \(privateKeyPath): \(TLSError.lastError())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.setup("the private key does not match the certificate")
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// TLS could not be set up: the certificate or key files, or OpenSSL itself. A struct, so new kinds do not break
/// callers.
public struct TLSError: Error, CustomStringConvertible {
    public let description: String

    static func setup(_ message: String) -> TLSError { TLSError(description: "TLS: \(message)") }

    static func lastError() -> String {
        let code = ERR_get_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

final class TLSTransport: Transport {
    private let ssl: OpaquePointer
    private let fd: Int32
    private var handshakeStarted = false

    init?(fd: Int32, configuration: TLSConfiguration) {
        guard let ssl = SSL_new(configuration.context) else { return nil }
        self.ssl = ssl
        self.fd = fd
        SSL_set_fd(ssl, fd)
        // A write may be retried from a moved buffer with the same bytes.
        _ = copenssl_set_mode(ssl, Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE))
        SSL_set_accept_state(ssl)
    }

    deinit { SSL_free(ssl) }

    private func result(_ code: Int32) -> IOResult {
        if code > 0 { return .done(Int(code)) }
        switch SSL_get_error(ssl, code) {
        case SSL_ERROR_WANT_READ: return .wouldBlock(wantWrite: false)
        case SSL_ERROR_WANT_WRITE: return .wouldBlock(wantWrite: true)
        default:
            ERR_clear_error()
            return .closed
        }
    }

    func handshake() -> IOResult {
        if SSL_is_init_finished(ssl) == 1 { return .done(0) }
        if !handshakeStarted {
            // A TLS client's first byte is 0x16 (a handshake record); an HTTP method's is a capital letter.
            var first: UInt8 = 0
            let n = recv(fd, &first, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if n == 0 { return .closed }
            guard n == 1 else { return errno == EAGAIN || errno == EWOULDBLOCK ? .wouldBlock(wantWrite: false) : .closed }
            handshakeStarted = true
            if (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
                refusePlainHTTP()
                return .closed
            }
        }
        let code = SSL_do_handshake(ssl)
        return code == 1 ? .done(0) : result(code)
    }

    /// Plain HTTP sent to this port, a common slip, gets a plain 400 saying why rather than a dropped connection.
    private func refusePlainHTTP() {
        HTTPResponse.problem(status: .badRequest, detail: "this port speaks HTTPS: send the request to https://").sendRefusal(on: fd)
        // Closing with the request unread resets the connection, which may discard the answer at the client: what
        // has arrived of it (up to 64 KiB, so a client cannot hold the loop) is read first.
        withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { scratch in
            for _ in 0..<4 {
                guard recv(fd, scratch.baseAddress, scratch.count, Int32(MSG_DONTWAIT)) > 0 else { break }
            }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        result(SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max)))))
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        result(SSL_write(ssl, bytes.baseAddress, Int32(min(bytes.count, Int(Int32.max)))))
    }
}
