import Foundation
import Glibc
import TestSupport
import Testing
import VideoDecode

/// Failure paths free what they allocated (the decode fuzzer found a format context leaked when the
/// demuxer's initializer threw after opening the input).
@Suite struct ResourceTests {
    /// Resident memory in bytes, from /proc/self/statm.
    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Under AddressSanitizer freed memory sits in quarantine, so RSS grows by design: LeakSanitizer checks there.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ASAN_OPTIONS"] == nil))
    func failedDecodesGiveTheirMemoryBack() throws {
        let audio = try TestVideos.make("leak-audio.m4a", TestVideos.lavfi("sine=frequency=440") + ["-t", "1", "-c:a", "aac"])
        let video = try TestVideos.h264(seconds: 2, gop: 30)
        var limits = DecodeLimits()
        limits.maxDimension = 100
        func failures() {
            _ = try? ClipDecoder.decode(audio, clips: 1)  // no video stream: thrown after the input is open
            _ = try? ClipDecoder.decode(video, clips: 1, limits: limits)  // too large: thrown before the decoder opens
            _ = try? ClipDecoder.decode(video.prefix(video.count / 3), clips: 1)
        }
        for _ in 0..<20 { failures() }  // let caches settle
        let before = Self.residentBytes()
        for _ in 0..<300 { failures() }
        // The leak it guards against cost about 6 KB a failure: 5 MB here.
        let growth = Self.residentBytes() - before
        #expect(growth < 2 << 20, "resident memory grew by \(growth) bytes over 900 failed decodes")
    }
}
