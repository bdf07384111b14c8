import Glibc

/// A failed system call, with the call's name and errno.
public struct SocketError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32

    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}

/// Every syscall goes through here: retried on EINTR, and a -1 becomes a `SocketError` carrying errno.
@discardableResult
func system<T: BinaryInteger>(_ call: String, _ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        if errno == EINTR { continue }
        throw SocketError(call: call, code: errno)
    }
}
