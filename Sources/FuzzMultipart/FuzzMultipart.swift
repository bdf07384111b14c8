import Foundation
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
    /// With -DFUZZING (scripts/fuzz.sh): libFuzzer's driver, taking libFuzzer's arguments. Otherwise: replays the
    /// files named on the command line, for regression runs of saved crashes.
    static func main() throws {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzMultipart(data ?? UnsafePointer(bitPattern: 1)!, size) })
        #else
        for path in CommandLine.arguments.dropFirst() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            _ = data.withUnsafeBytes { fuzzMultipart($0.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!, data.count) }
        }
        #endif
    }
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
#endif
