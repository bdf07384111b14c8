import Foundation

/// Bounds-checked little-endian reads from a byte buffer; running off the end throws `WeightError.truncated`.
struct ByteReader {
    let bytes: Data
    var position: Int

    init(_ bytes: Data, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else { throw WeightError.truncated(detail: what()) }
        position += count
    }

    mutating func read(_ count: Int, _ what: @autoclosure () -> String) throws -> Data {
        guard count >= 0, count <= remaining else { throw WeightError.truncated(detail: what()) }
        let start = bytes.startIndex + position
        position += count
        return bytes[start..<start + count]
    }

    mutating func byte(_ what: @autoclosure () -> String) throws -> UInt8 {
        guard remaining >= 1 else { throw WeightError.truncated(detail: what()) }
        defer { position += 1 }
        return bytes[bytes.startIndex + position]
    }

    /// An unsigned little-endian integer of `width` bytes (at most 8).
    mutating func uint(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        guard remaining >= width else { throw WeightError.truncated(detail: what()) }
        var value: UInt64 = 0
        let start = bytes.startIndex + position
        for i in 0..<width { value |= UInt64(bytes[start + i]) << (8 * UInt64(i)) }
        position += width
        return value
    }

    /// A line up to and excluding "\n".
    mutating func line(_ what: @autoclosure () -> String) throws -> String {
        let start = bytes.startIndex + position
        guard let end = bytes[start...].firstIndex(of: 0x0A) else { throw WeightError.truncated(detail: what()) }
        position += end - start + 1
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
