import Foundation
import Glibc

/// A blocking loopback client that speaks raw bytes.
public final class RawClient {
    public let fd: Int32

    public init(port: Int, receiveTimeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw NSError(domain: "connect", code: Int(errno))
        }
    }

    deinit { Glibc.close(fd) }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `count` complete responses have arrived (by Content-Length), the peer closes, or the timeout.
    public func responses(_ count: Int) -> [(status: Int, headers: [String: String], body: String)] {
        var data = [UInt8]()
        var parsed: [(Int, [String: String], String)] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while parsed.count < count {
            parsed = Self.parse(data)
            if parsed.count >= count { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return Self.parse(data).map { (status: $0.0, headers: $0.1, body: $0.2) }
    }

    public func response() -> (status: Int, headers: [String: String], body: String)? { responses(1).first }

    /// True when the server has closed the connection (recv sees end of file) within the receive timeout.
    public func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    static func parse(_ data: [UInt8]) -> [(Int, [String: String], String)] {
        var out: [(Int, [String: String], String)] = []
        var rest = data[...]
        while let end = rest.firstRange(of: [13, 10, 13, 10]) {
            let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
            let lines = head.components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                let pair = line.split(separator: ":", maxSplits: 1)
                if pair.count == 2 { headers[pair[0].lowercased()] = pair[1].trimmingCharacters(in: .whitespaces) }
            }
            if status == 100 { rest = rest[end.upperBound...]; continue }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard rest.endIndex - end.upperBound >= length else { break }
            out.append((status, headers, String(decoding: rest[end.upperBound..<end.upperBound + length], as: UTF8.self)))
            rest = rest[(end.upperBound + length)...]
        }
        return out
    }
}

/// Runs a command-line tool and returns its standard output.
public func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
