import Synchronization

/// Request ids, echoed as `X-Request-Id` and written in every log line about the request.
enum RequestID {
    /// A counter scrambled by SplitMix64's finaliser from a random start: unique in the process, unpredictable
    /// enough for logs, and no system call.
    private static let state = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    static func make() -> String {
        var z = state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let hex = String(z ^ (z >> 31), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A client's id is kept only if it is short and plain.
    static func validated(_ id: String) -> String? {
        guard (1...128).contains(id.utf8.count),
              id.utf8.allSatisfy({ RequestParser.isTokenCharacter($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") })
        else { return nil }
        return id
    }
}
