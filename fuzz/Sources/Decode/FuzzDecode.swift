import Foundation
import FuzzSupport
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
    static func main() throws {
        try fuzzMain { data, size in fuzzDecode(data ?? UnsafePointer(bitPattern: 1)!, size) }
    }
}
