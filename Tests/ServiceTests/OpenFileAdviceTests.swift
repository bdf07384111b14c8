import R2Plus1D
import Service
import Testing

/// Connections fitted to the open-file limit, so that a flood of them cannot take the descriptors a decode worker
/// needs to start.
@Suite struct OpenFileAdviceTests {
    static func configuration(maxConnections: Int = 512, decodeThreads: Int = 2) -> ServiceConfiguration {
        var c = ServiceConfiguration(weights: .demo(seed: 1))
        c.http.maxConnections = maxConnections
        c.decodeThreads = decodeThreads
        return c
    }

    @Test func aLimitBelowTheConnectionsLowersThemAndSaysWhatToRaise() throws {
        var c = Self.configuration()
        let said = c.fitConnections(toOpenFileLimit: 256)
        let advice = try #require(said)
        // 64 for the server's own files, 8 for each of two decode workers (and their replacements): 80.
        #expect(c.http.maxConnections == 176)
        #expect(advice.contains("(256) leaves room for 176 connections, not 512"), "\(advice)")
        #expect(advice.contains("at least 592"), "\(advice)")
    }

    @Test func aLimitWithRoomChangesNothing() {
        var c = Self.configuration()
        for limit in [1 << 20, 592, nil] {
            let advice = c.fitConnections(toOpenFileLimit: limit)
            #expect(advice == nil && c.http.maxConnections == 512)
        }
    }

    @Test func aLimitBelowTheServersOwnNeedsLeavesOneConnection() {
        var c = Self.configuration(maxConnections: .max, decodeThreads: 1 << 62)
        let advice = c.fitConnections(toOpenFileLimit: 40)
        #expect(advice != nil)
        #expect(c.http.maxConnections == 1)
    }
}
