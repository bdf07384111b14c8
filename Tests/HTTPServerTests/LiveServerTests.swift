import Foundation
import Glibc
import HTTPServer
import TestSupport
import Testing

/// Real sockets on loopback: what only a live server shows.
@Suite(.serialized) struct LiveServerTests {
    @Test func keepAliveServesManyRequestsOnOneConnection() throws {
        let live = try LiveServer()
        let client = try RawClient(port: live.port)
        for name in ["a", "b", "c"] {
            client.send("GET /hello?name=\(name) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(client.response())
            #expect(response.status == 200 && response.body == "hello \(name)")
            #expect(response.headers["x-request-id"]?.count == 16)
        }
        #expect(live.stop())
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let live = try LiveServer()
        let client = try RawClient(port: live.port)
        client.send("GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?name=2 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nX-Request-Id: mine-1\r\n\r\nabcd")
        let responses = client.responses(3)
        #expect(responses.map(\.body) == ["slept 200", "hello 2", "4"])
        #expect(responses.last?.headers["x-request-id"] == "mine-1")
        #expect(live.stop())
    }

    @Test func routingErrorsAndHead() throws {
        let live = try LiveServer()
        let client = try RawClient(port: live.port)
        client.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\nDELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = client.responses(2)
        // Sent after the first two are read: `responses` would swallow a bodiless HEAD answer arriving with them.
        client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(responses.first?.status == 404 && responses.first?.headers["content-type"] == "application/problem+json")
        #expect(responses.last?.status == 405 && responses.last?.headers["allow"] == "GET, HEAD")
        // HEAD: the GET handler's length, no body bytes.
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(client.fd, &buffer, buffer.count, 0)
        let head = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Length: 11") && head.hasSuffix("\r\n\r\n"))
        #expect(live.stop())
    }

    @Test func badRequestsGetTheirStatusAndTheConnectionCloses() throws {
        let live = try LiveServer()
        for (text, status) in [("GET / HTTP/1.1\r\n\r\n", 400),
                               ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
                               ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413)] {
            let client = try RawClient(port: live.port)
            client.send(text)
            let response = try #require(client.response())
            #expect(response.status == status && response.headers["connection"] == "close")
            #expect(client.isClosedByPeer())
        }
        #expect(live.stop())
    }

    @Test func curlUploadsMultipartWithExpectContinueAndChunked() throws {
        let live = try LiveServer()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("upload-\(getpid()).bin")
        try Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0) }).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let started = Date()
        let multipart = try run("curl", ["-sS", "-F", "video=@\(file.path);type=video/mp4", "http://127.0.0.1:\(live.port)/echo"])
        // curl waits up to a second for 100 Continue before sending the body anyway; answered at once, it does not wait.
        #expect(Date().timeIntervalSince(started) < 0.9)
        #expect(multipart.output == "video:upload-\(getpid()).bin:200000")
        let chunked = try run("curl", ["-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)",
                                       "http://127.0.0.1:\(live.port)/echo"])
        #expect(chunked.output == "200000")
        #expect(live.stop())
    }

    @Test func clientThatDisconnectsMidBodyLeavesTheServerHealthy() throws {
        let live = try LiveServer()
        do {
            let client = try RawClient(port: live.port)
            client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 5000))
        }
        Thread.sleep(forTimeInterval: 0.2)
        let client = try RawClient(port: live.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.response()?.status == 200)
        #expect(live.stop())
    }

    @Test func slowlorisConnectionsDoNotDelayOthers() throws {
        let live = try LiveServer { $0.headerTimeoutSeconds = 10 }
        let slow = try (0..<200).map { _ in try RawClient(port: live.port) }
        let request = Array("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        for second in 0..<3 {
            for client in slow { client.send([request[second]]) }
            let started = Date()
            let normal = try RawClient(port: live.port)
            normal.send("GET /hello?name=fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(normal.response()?.body == "hello fast")
            #expect(Date().timeIntervalSince(started) < 0.5, "a normal request took \(Date().timeIntervalSince(started)) s")
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(live.stop())
    }

    @Test func headerTimeoutIsATotalBudget() throws {
        let live = try LiveServer { $0.headerTimeoutSeconds = 1 }
        let client = try RawClient(port: live.port)
        let started = Date()
        // One byte every 300 ms would keep a per-read timeout alive forever; the total budget ends it.
        for byte in Array("GET /hello HTTP/1.1\r\n".utf8).prefix(6) {
            client.send([byte])
            Thread.sleep(forTimeInterval: 0.3)
        }
        let response = client.response()
        #expect(response?.status == 408)
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(live.stop())
    }

    @Test func slowBodiesAndIdleConnectionsAreClosed() throws {
        let live = try LiveServer {
            $0.bodyTimeoutSeconds = 1
            $0.idleTimeoutSeconds = 1
        }
        let body = try RawClient(port: live.port)
        body.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        #expect(body.response()?.status == 408)
        let idle = try RawClient(port: live.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.response()?.status == 200)
        let started = Date()
        #expect(idle.isClosedByPeer())
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(live.stop())
    }

    @Test func connectionsOverTheLimitGet503() throws {
        let live = try LiveServer { $0.maxConnections = 2 }
        let a = try RawClient(port: live.port), b = try RawClient(port: live.port)
        Thread.sleep(forTimeInterval: 0.1)
        #expect(live.server.openConnections == 2)
        let c = try RawClient(port: live.port)
        #expect(c.response()?.status == 503)
        #expect(live.server.refusedConnections(.limit) == 1 && live.server.refusedConnections(.descriptors) == 0)
        a.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(a.response()?.status == 200)
        _ = b
        #expect(live.stop())
    }

    @Test func drainFinishesInFlightRequestsAndRefusesNewConnections() throws {
        let live = try LiveServer()
        let busy = try RawClient(port: live.port)
        let idle = try RawClient(port: live.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.response()?.status == 200)
        busy.send("GET /slow?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.2)
        live.server.drain()
        // The idle keep-alive connection closes; the in-flight request is answered, with Connection: close.
        #expect(idle.isClosedByPeer())
        let response = busy.response()
        #expect(response?.body == "slept 800" && response?.headers["connection"] == "close")
        #expect(live.waitForExit(timeout: 5))
        #expect(throws: (any Error).self) { try RawClient(port: live.port) }
    }

    @Test func sigtermDrainsWithARequestInFlight() throws {
        let drained = DrainFlag()
        let live = try LiveServer(configure: { $0.drainDelaySeconds = 0.5 }, signals: true, onDrain: { drained.set() })
        let warm = try RawClient(port: live.port)
        warm.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(warm.response()?.status == 200)
        let busy = try RawClient(port: live.port)
        busy.send("GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.1)
        kill(getpid(), SIGTERM)
        Thread.sleep(forTimeInterval: 0.1)
        // The hook ran at once; the listener still accepts during the drain delay.
        #expect(drained.isSet)
        let late = try RawClient(port: live.port)
        late.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(late.response()?.status == 200)
        #expect(busy.response()?.body == "slept 600")
        #expect(live.waitForExit(timeout: 5))
    }

    @Test func tlsWithASelfSignedCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = directory.appendingPathComponent("key.pem").path, cert = directory.appendingPathComponent("cert.pem").path
        let made = try run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                       "-days", "1", "-subj", "/CN=localhost"])
        #expect(made.status == 0)
        let tls = try TLSConfiguration(certificateChainPath: cert, privateKeyPath: key)
        let live = try LiveServer { $0.tls = tls }
        let result = try run("curl", ["-sS", "--cacert", cert, "https://localhost:\(live.port)/hello?name=tls",
                                      "--resolve", "localhost:\(live.port):127.0.0.1"])
        #expect(result.output == "hello tls")
        let upload = try run("curl", ["-sS", "-k", "--data-binary", "@\(cert)", "https://127.0.0.1:\(live.port)/echo"])
        #expect(upload.output == "\(try Data(contentsOf: URL(fileURLWithPath: cert)).count)")
        let old = try run("curl", ["-sS", "-k", "--tls-max", "1.1", "https://127.0.0.1:\(live.port)/hello"])
        #expect(old.status != 0, "TLS 1.1 must be refused")
        // Plain HTTP to the TLS port, a common slip: a plain 400 that says why, not a dropped connection.
        let plain = try RawClient(port: live.port)
        plain.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = try #require(plain.response())
        #expect(refused.status == 400 && refused.body.contains("https://"), "\(refused)")
        #expect(plain.isClosedByPeer())
        #expect(throws: TLSError.self) { try TLSConfiguration(certificateChainPath: key, privateKeyPath: key) }
        #expect(live.stop())
    }
}

final class DrainFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
