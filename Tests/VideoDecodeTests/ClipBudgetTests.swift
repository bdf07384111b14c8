import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// A request's deadline and frame budget hold for each 8 clips, as each chunk of 8 windows of a timeline gets its
/// own: 10 clips of a 30-second 4K HEVC video took 6.2 s to decode on one thread, over the 5 s a whole request had.
@Suite struct ClipBudgetTests {
    @Test func budgetsGrowWithEachEightClips() {
        #expect([1, 8, 9, 10, 16, 17].map(DecodeLimits.budgets(forClips:)) == [1, 1, 2, 2, 2, 3])
        var limits = DecodeLimits.default
        limits.deadlineSeconds = 5
        limits.maxDecodedFrames = 100
        let ten = limits.scaled(forClips: 10)
        #expect(ten.deadlineSeconds == 10 && ten.maxDecodedFrames == 200)
        #expect(limits.scaled(forClips: 8) == limits)
    }

    @Test func tenClipsMayDecodeTwiceOneBudget() throws {
        let bytes = try TestVideos.h264(seconds: 20, gop: 60)
        var limits = DecodeLimits.default
        limits.maxDecodedFrames = 300
        let clips = try ClipDecoder.decode(bytes, clips: 10, limits: limits)
        #expect(clips.decodedFrames > 300, "\(clips.decodedFrames) frames")
        #expect(throws: DecodeError.self) { try ClipDecoder.decode(bytes, clips: 10, limits: { var l = limits; l.maxDecodedFrames = 100; return l }()) }
    }
}
