import Glibc

/// A listening TCP socket on IPv4 or IPv6, non-blocking, close-on-exec, SO_REUSEADDR.
final class Listener {
    let fd: Int32
    /// The port actually bound (the kernel's choice when asked for port 0).
    let port: Int

    /// - Parameters:
    ///   - host: an IPv4 or IPv6 literal (`0.0.0.0`, `::`, `127.0.0.1`, `::1`) or `localhost`. `::` also accepts IPv4.
    init(host: String, port: Int, backlog: Int32) throws {
        let name = host == "localhost" ? "127.0.0.1" : host
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        if name.contains(":") {
            family = AF_INET6
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, name, &address.sin6_addr) == 1 else { throw SocketError(call: "inet_pton(\(host))", code: EINVAL) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, name, &address.sin_addr) == 1 else { throw SocketError(call: "inet_pton(\(host))", code: EINVAL) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let fd = try system("socket") { socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            var on: Int32 = 1, off: Int32 = 0
            try system("setsockopt(SO_REUSEADDR)") { setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) }
            if family == AF_INET6 {
                try system("setsockopt(IPV6_V6ONLY)") { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size)) }
            }
            try withUnsafePointer(to: &storage) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    try system("bind(\(host):\(port))") { bind(fd, address, length) }
                }
            }
            try system("listen") { listen(fd, backlog) }
            var bound = sockaddr_storage()
            var boundLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            try withUnsafeMutablePointer(to: &bound) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    try system("getsockname") { getsockname(fd, address, &boundLength) }
                }
            }
            self.port = withUnsafeBytes(of: bound) { raw in
                family == AF_INET6 ? Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
                                   : Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            }
            self.fd = fd
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(fd) }
}
