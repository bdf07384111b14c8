import Foundation
import FuzzSupport
import HTTPServer

/// libFuzzer entry: arbitrary bytes, fed to the request parser in two pieces split at the first byte's value.
/// Built with `-sanitize=fuzzer,address -DFUZZING` by scripts/fuzz.sh; otherwise a runner over files.
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var limits = HTTPLimits()
    limits.maxBodyBytes = 1 << 16
    var parser = RequestParser(limits: limits)
    let split = size > 0 ? Int(bytes[0]) % (size + 1) : 0
    for piece in [bytes[0..<split], bytes[split..<size]] {
        parser.append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[piece.indices]))
        var steps = 0
        loop: while steps < 10_000 {
            steps += 1
            switch parser.next() {
            case .needMore: break loop
            case .error: return 0
            case .head(let head): _ = (head.path, head.query, head.keepAlive)
            case .request(let request):
                if let type = request.headers["Content-Type"], let boundary = Multipart.boundary(contentType: type) {
                    _ = try? Multipart.parse(request.body, boundary: boundary)
                }
            }
        }
        precondition(steps < 10_000, "the parser made no progress")
    }
    return 0
}

@main struct FuzzHTTPParserMain {
    static func main() throws {
        try fuzzMain { data, size in fuzzHTTPParser(data ?? UnsafePointer(bitPattern: 1)!, size) }
    }
}
