@testable import Service
import Testing

/// The RESP2 codec from byte strings, and the store address.
@Suite struct RESPTests {
    static func parse(_ text: String) throws -> [RESPValue] {
        var parser = RESPParser()
        parser.append(Array(text.utf8))
        var values: [RESPValue] = []
        while let value = try parser.next() { values.append(value) }
        return values
    }

    @Test func commandsAreArraysOfBulkStrings() {
        #expect(String(decoding: RESP.command(["SET", "k", "héllo"]), as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nhéllo\r\n")
        #expect(String(decoding: RESP.command(["GET", ""]), as: UTF8.self) == "*2\r\n$3\r\nGET\r\n$0\r\n\r\n")
    }

    @Test func everyReplyTypeParses() throws {
        #expect(try Self.parse("+OK\r\n-ERR no\r\n:42\r\n:-1\r\n$5\r\nhe\r\no\r\n$-1\r\n$0\r\n\r\n*-1\r\n*0\r\n") == [
            .simple("OK"), .error("ERR no"), .integer(42), .integer(-1), .bulk(Array("he\r\no".utf8)), .bulk(nil), .bulk([]),
            .array(nil), .array([]),
        ])
        #expect(try Self.parse("*3\r\n$7\r\ncreated\r\n*2\r\n:1\r\n$-1\r\n+QUEUED\r\n") == [
            .array([.bulk(Array("created".utf8)), .array([.integer(1), .bulk(nil)]), .simple("QUEUED")]),
        ])
    }

    @Test func aReplySplitAnywhereWaitsForTheRest() throws {
        let whole = Array("*2\r\n$5\r\nhello\r\n:7\r\n+OK\r\n".utf8)
        for cut in 0...whole.count {
            var parser = RESPParser()
            var values: [RESPValue] = []
            parser.append(whole[..<cut])
            while let value = try parser.next() { values.append(value) }
            parser.append(whole[cut...])
            while let value = try parser.next() { values.append(value) }
            #expect(values == [.array([.bulk(Array("hello".utf8)), .integer(7)]), .simple("OK")], "cut at \(cut)")
        }
    }

    @Test func malformedRepliesAreErrors() {
        for bad in ["?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "+OK\rX", "*x\r\n", "$99999999999\r\n"] {
            #expect(throws: RESPError.self, "\(bad.debugDescription)") { _ = try Self.parse(bad) }
        }
        let deep = String(repeating: "*1\r\n", count: 20) + ":1\r\n"
        #expect(throws: RESPError.self) { _ = try Self.parse(deep) }
    }

    @Test func addresses() throws {
        #expect(try RedisAddress("redis://127.0.0.1:6380/2") == RedisAddress(host: "127.0.0.1", port: 6380, database: 2))
        #expect(try RedisAddress("redis://cache") == RedisAddress(host: "cache", port: 6379, database: 0))
        #expect(try RedisAddress("redis://[::1]:7000") == RedisAddress(host: "::1", port: 7000, database: 0))
        for bad in ["http://x:1", "redis://:6379", "redis://h:0", "redis://h:1/99", "redis://h:x"] {
            #expect(throws: JobError.self, "\(bad)") { _ = try RedisAddress(bad) }
        }
    }
}

extension RedisAddress {
    init(host: String, port: Int, database: Int) {
        try! self.init("redis://127.0.0.1")
        self.host = host
        self.port = port
        self.database = database
    }
}
