/// Job ids: 144 random bits from the system's CSPRNG, base64url without padding (24 characters), so a job's
/// result is readable only by whoever holds its id, and the id goes into a URL as it is.
public enum JobID {
    static let bytes = 18
    public static let length = 24
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return make(using: &generator)
    }

    static func make(using generator: inout some RandomNumberGenerator) -> String {
        let random = (0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        var out: [UInt8] = []
        out.reserveCapacity(length)
        // 18 bytes are six groups of 3: four characters each, no padding.
        for group in stride(from: 0, to: bytes, by: 3) {
            let n = UInt32(random[group]) << 16 | UInt32(random[group + 1]) << 8 | UInt32(random[group + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` could be an id: anything else is answered 404 without asking the store.
    public static func isWellFormed(_ text: String) -> Bool {
        text.utf8.count == length && text.utf8.allSatisfy { alphabet.contains($0) }
    }
}
