import Foundation
import Glibc
import HTTPServer
import TestSupport
import Testing

/// A server whose process runs out of file descriptors. Run in a child process, as the limit is the process's.
@Suite struct DescriptorShortageTests {
    @Test func connectionsPastTheDescriptorLimitGet503AndTheLoopStaysResponsive() async {
        await #expect(processExitsWith: .success) {
            let live = try LiveServer()
            // A first request starts the threads that run handlers, which may take descriptors of their own. The
            // server holds its end until the client closes.
            do {
                let warmUp = try RawClient(port: live.port)
                warmUp.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                #expect(warmUp.response()?.status == 200)
            }
            for _ in 0..<100 where live.server.openConnections > 0 { usleep(10_000) }
            // The clients' sockets are made before the limit is lowered; connecting them needs no descriptor.
            let clients = (0..<24).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            for fd in clients { setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) }
            // Room for exactly three more descriptors in this process: the server can hold three connections.
            leaveDescriptorsFree(3)

            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(live.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var statuses: [Int] = []
            for fd in clients {
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                #expect(connected == 0)
                let request = Array("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                _ = send(fd, request, request.count, Int32(MSG_NOSIGNAL))
                var buffer = [UInt8](repeating: 0, count: 4096)
                let n = recv(fd, &buffer, buffer.count, 0)
                let head = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
                statuses.append(head.hasPrefix("HTTP/1.1 ") ? Int(head.dropFirst(9).prefix(3)) ?? 0 : 0)
            }
            // The first are served while descriptors last (three, unless the process took one meanwhile); each later
            // one is answered 503 through the spare descriptor, and none waits.
            let served = statuses.prefix { $0 == 200 }.count
            #expect((1...3).contains(served) && statuses.dropFirst(served).allSatisfy { $0 == 503 }, "\(statuses)")
            #expect(live.server.refusedConnections(.descriptors) == 24 - served && live.server.openConnections == served)

            // Every descriptor taken, the loop sleeps: before the spare descriptor, the refused connections stayed
            // waiting and the loop spun on them, which takes the whole 0.5 s window. Half that is the bound: the
            // process's other work in the same window took up to 0.104 s on a slow host.
            var before = timespec(), after = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &before)
            usleep(500_000)
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &after)
            let cpuSeconds = Double(after.tv_sec - before.tv_sec) + Double(after.tv_nsec - before.tv_nsec) / 1e9
            #expect(cpuSeconds < 0.25)

            // Once the held connections close, connections are accepted again.
            for fd in clients { close(fd) }
            usleep(300_000)
            let again = try RawClient(port: live.port)
            again.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(again.response()?.status == 200)
            #expect(live.stop())
        }
    }
}
