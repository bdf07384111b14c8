import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a Redis server is: `redis://host:port[/db]`.
public struct RedisAddress: Equatable, Sendable {
    public var host: String
    public var port: Int
    public var database: Int

    /// - Throws: `JobError.storeUnavailable` saying what is wrong with `url`.
    public init(_ url: String) throws {
        let bad = JobError.storeUnavailable("--jobs-store must be redis://host:port[/db], got '\(url.prefix(100))'")
        guard url.hasPrefix("redis://") else { throw bad }
        var rest = Substring(url.dropFirst("redis://".count))
        database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let number = Int(db), (0...15).contains(number) else { throw bad }
                database = number
            }
            rest = rest[..<slash]
        }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { throw bad }
            rest = rest.dropFirst()
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
            rest = ""
        }
        if rest.isEmpty { port = 6379 } else {
            guard let number = Int(rest), (1...65535).contains(number) else { throw bad }
            port = number
        }
        guard !host.isEmpty else { throw bad }
    }
}

/// One blocking connection to Redis, used from one queue at a time: commands go out pipelined and their
/// replies come back in order. Any I/O failure closes it; the next call connects again. Unchecked Sendable:
/// after set-up it is only touched from its store's serial queue.
final class RedisConnection: @unchecked Sendable {
    let address: RedisAddress
    let timeoutSeconds: Double
    private var fd: Int32 = -1
    private var parser = RESPParser()

    init(address: RedisAddress, timeoutSeconds: Double = 5) {
        self.address = address
        self.timeoutSeconds = timeoutSeconds
    }

    deinit { close() }

    /// Sends `commands` at once and reads one reply each. Error replies are returned, not thrown.
    /// - Throws: `JobError.storeUnavailable` when the server cannot be reached or answers nonsense.
    func send(_ commands: [[String]]) throws -> [RESPValue] {
        do {
            if fd < 0 { try connect() }
            var bytes: [UInt8] = []
            for command in commands { bytes += RESP.command(command) }
            try write(bytes)
            return try commands.map { _ in try read() }
        } catch {
            close()
            throw error as? JobError ?? JobError.storeUnavailable("\(error)")
        }
    }

    private func connect() throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, "\(address.port)", &hints, &found) == 0, let first = found else {
            throw JobError.storeUnavailable("cannot resolve \(address.host)")
        }
        defer { freeaddrinfo(found) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let s = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if s >= 0 {
                var timeout = timeval(tv_sec: Int(timeoutSeconds), tv_usec: 0)
                setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var one: Int32 = 1
                setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if Glibc.connect(s, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    fd = s
                    parser = RESPParser()
                    if address.database != 0 {
                        try write(RESP.command(["SELECT", "\(address.database)"]))
                        if case .error(let message) = try read() { throw JobError.storeUnavailable(message) }
                    }
                    return
                }
                Glibc.close(s)
            }
            entry = info.pointee.ai_next
        }
        throw JobError.storeUnavailable("cannot connect to \(address.host):\(address.port): \(String(cString: strerror(errno)))")
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw JobError.storeUnavailable("write to redis: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    private func read() throws -> RESPValue {
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            if let value = try parser.next() { return value }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw JobError.storeUnavailable(n == 0 ? "redis closed the connection" : "read from redis: \(String(cString: strerror(errno)))") }
            parser.append(chunk[0..<n])
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
