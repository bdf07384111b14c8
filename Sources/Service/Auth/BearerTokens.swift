import COpenSSL
import Foundation
import Synchronization

/// The bearer tokens a client may present, read from a file (one a line; blank lines and `#` comments skipped)
/// and re-read on demand (SIGHUP), so tokens rotate without a restart.
///
/// Tokens are kept as SHA-256 digests and a presented token is hashed and compared with every one of them in
/// constant time: the time taken says nothing of how much of a token matched, nor of its length.
public final class BearerTokens: Sendable {
    public let path: String
    private let digests: Mutex<[[UInt8]]>

    /// - Throws: `AuthError.unreadableTokenFile` or `.noTokens`.
    public init(path: String) throws {
        self.path = path
        digests = Mutex(try Self.read(path))
    }

    /// Tokens given directly (tests, embedding).
    public init(tokens: [String]) {
        path = ""
        digests = Mutex(tokens.map { Self.digest(Array($0.utf8)) })
    }

    public var count: Int { digests.withLock { $0.count } }

    /// Re-reads the file; on failure the tokens in use stay.
    /// - Throws: `AuthError.unreadableTokenFile` or `.noTokens`.
    public func reload() throws {
        let fresh = try Self.read(path)
        digests.withLock { $0 = fresh }
    }

    /// Whether `token` is one of the tokens, in time that does not depend on which token or how much matched.
    public func contains(_ token: some StringProtocol) -> Bool {
        let presented = Self.digest(Array(token.utf8))
        let known = digests.withLock { $0 }
        var found: UInt8 = 0
        for digest in known {
            var difference: UInt8 = 0
            for (a, b) in zip(digest, presented) { difference |= a ^ b }
            found |= difference == 0 ? 1 : 0
        }
        return found == 1
    }

    static func read(_ path: String) throws -> [[UInt8]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw AuthError.unreadableTokenFile(path) }
        let tokens = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !tokens.isEmpty else { throw AuthError.noTokens(path) }
        return tokens.map { digest(Array($0.utf8)) }
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { _ = SHA256($0.baseAddress, $0.count, &digest) }
        return digest
    }
}

/// Why the token file cannot be used.
public enum AuthError: Error, CustomStringConvertible, Equatable {
    case unreadableTokenFile(String)
    case noTokens(String)

    public var description: String {
        switch self {
        case .unreadableTokenFile(let path): "cannot read the token file \(path); give a readable file with one token a line"
        case .noTokens(let path): "the token file \(path) holds no token; put one token a line"
        }
    }
}
