import Foundation
import FuzzSupport
import HTTPServer

/// libFuzzer entry: the first line is the boundary, the rest a multipart body.
/// Built with `-sanitize=fuzzer,address -DFUZZING` by scripts/fuzz.sh; otherwise a runner over files.
public func fuzzMultipart(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let newline = bytes.firstIndex(of: 10) else { return 0 }
    let boundary = String(decoding: bytes[..<newline], as: UTF8.self)
    guard let checked = Multipart.boundary(contentType: "multipart/form-data; boundary=\"\(boundary)\"") else { return 0 }
    if let parts = try? Multipart.parse(bytes[(newline + 1)...], boundary: checked) {
        for part in parts { precondition(part.body.startIndex >= newline + 1 && part.body.endIndex <= bytes.endIndex) }
    }
    return 0
}

@main struct FuzzMultipartMain {
    static func main() throws {
        try fuzzMain { data, size in fuzzMultipart(data ?? UnsafePointer(bitPattern: 1)!, size) }
    }
}
