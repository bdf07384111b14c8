import Foundation
import VideoDecode

/// libFuzzer entry: arbitrary bytes as an upload, decoded with the production limits (a shorter deadline, so
/// a slow input shows as a timeout rather than stalling the run). Any DecodeError is a pass; a crash, a hang or
/// a sanitizer report is a finding. FFmpeg itself is not instrumented: coverage guides through our code only.
func fuzzDecode(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var limits = DecodeLimits()
    limits.deadlineSeconds = 2
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    if let decoded = try? ClipDecoder.decode(bytes, clips: 1 + (size % 3), limits: limits) {
        precondition(decoded.values.count == decoded.clipCount * 3 * 16 * 112 * 112)
        precondition(decoded.values.allSatisfy { $0.isFinite })
    }
    return 0
}

@main struct FuzzDecodeMain {
    /// With -DFUZZING (scripts/fuzz.sh): libFuzzer's driver, taking libFuzzer's arguments. Otherwise: replays the
    /// files named on the command line, for regression runs of saved crashes.
    static func main() throws {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzDecode(data ?? UnsafePointer(bitPattern: 1)!, size) })
        #else
        for path in CommandLine.arguments.dropFirst() {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            _ = data.withUnsafeBytes { fuzzDecode($0.bindMemory(to: UInt8.self).baseAddress ?? UnsafePointer(bitPattern: 1)!, data.count) }
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
