/// RESP2, the Redis protocol, as pure code over bytes.
///
/// Layout: every value starts with a type byte and ends its header with CRLF.
///   `+text\r\n` simple string   `-text\r\n` error   `:123\r\n` integer
///   `$5\r\nhello\r\n` bulk string (`$-1\r\n` is null)   `*2\r\n<value><value>` array (`*-1\r\n` is null)
/// A command is an array of bulk strings.
public enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8]?)
    case array([RESPValue]?)

    /// A bulk or simple string's text.
    public var text: String? {
        switch self {
        case .simple(let s): s
        case .bulk(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }
}

public enum RESPError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .malformed(let what): "malformed RESP from the server: \(what)"
        case .tooLarge(let length): "a RESP value of \(length) bytes or elements is over the limit"
        }
    }
}

public enum RESP {
    /// `arguments` as one command.
    public static func command(_ arguments: [String]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            let bytes = Array(argument.utf8)
            out += Array("$\(bytes.count)\r\n".utf8)
            out += bytes
            out += [13, 10]
        }
        return out
    }
}

/// Reads replies from bytes as they arrive: `next()` returns nil until a whole value is buffered.
public struct RESPParser {
    /// The largest bulk string and the most array elements accepted: well above a job record, far below memory.
    public static let maxLength = 64 << 20
    static let maxDepth = 8
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or nil if more bytes are needed. - Throws: `RESPError` on bytes that are not RESP2.
    public mutating func next() throws -> RESPValue? {
        var index = start
        guard let value = try parse(&index, depth: 0) else { return nil }
        start = index
        return value
    }

    /// One value from `index`, moving it past the value; nil (index unchanged) if incomplete.
    private func parse(_ index: inout Int, depth: Int) throws -> RESPValue? {
        guard depth <= Self.maxDepth else { throw RESPError.malformed("arrays nested deeper than \(Self.maxDepth)") }
        guard index < buffer.count else { return nil }
        let type = buffer[index]
        var cursor = index + 1
        guard let line = try self.line(&cursor) else { return nil }
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"): value = .simple(line)
        case UInt8(ascii: "-"): value = .error(line)
        case UInt8(ascii: ":"):
            guard let number = Int(line) else { throw RESPError.malformed("integer '\(line.prefix(20))'") }
            value = .integer(number)
        case UInt8(ascii: "$"):
            let length = try Self.length(line)
            guard length >= 0 else {
                value = .bulk(nil)
                break
            }
            guard buffer.count - cursor >= length + 2 else { return nil }
            guard buffer[cursor + length] == 13, buffer[cursor + length + 1] == 10 else {
                throw RESPError.malformed("bulk string not ended by CRLF")
            }
            value = .bulk(Array(buffer[cursor..<cursor + length]))
            cursor += length + 2
        case UInt8(ascii: "*"):
            let count = try Self.length(line)
            guard count >= 0 else {
                value = .array(nil)
                break
            }
            var elements: [RESPValue] = []
            for _ in 0..<count {
                guard let element = try parse(&cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            value = .array(elements)
        default:
            throw RESPError.malformed("type byte \(type)")
        }
        index = cursor
        return value
    }

    /// The text up to CRLF from `cursor`, moving it past the CRLF; nil if no CRLF is buffered yet.
    private func line(_ cursor: inout Int) throws -> String? {
        var i = cursor
        while i + 1 < buffer.count {
            if buffer[i] == 13 {
                guard buffer[i + 1] == 10 else { throw RESPError.malformed("CR without LF") }
                let text = String(decoding: buffer[cursor..<i], as: UTF8.self)
                cursor = i + 2
                return text
            }
            i += 1
        }
        guard buffer.count - cursor <= 64 << 10 else { throw RESPError.malformed("a header line over 64 KiB") }
        return nil
    }

    private static func length(_ line: String) throws -> Int {
        guard let length = Int(line), length >= -1 else { throw RESPError.malformed("length '\(line.prefix(20))'") }
        guard length <= maxLength else { throw RESPError.tooLarge(length) }
        return length
    }
}
