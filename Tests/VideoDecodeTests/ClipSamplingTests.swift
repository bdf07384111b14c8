import Testing
@testable import VideoDecode

@Suite struct ClipSamplingTests {
    @Test func clipStartsSpreadOverTheVideo() {
        let span = 10 - 16.0 / 15
        #expect(ClipSampling.clipStarts(duration: 10, count: 1) == [span / 2])
        let three = ClipSampling.clipStarts(duration: 10, count: 3)
        #expect(three.count == 3 && three[0] == 0 && abs(three[1] - span / 2) < 1e-12 && abs(three[2] - span) < 1e-12)
        // A video shorter than a clip: every clip starts at 0.
        #expect(ClipSampling.clipStarts(duration: 0.5, count: 1) == [0])
        #expect(ClipSampling.clipStarts(duration: 0.5, count: 4) == [0, 0, 0, 0])
    }

    @Test func gridIsFifteenPerSecond() {
        let grid = ClipSampling.gridTimes(start: 2)
        #expect(grid.count == 16 && grid[0] == 2 && abs(grid[15] - (2 + 15.0 / 15)) < 1e-12)
    }

    @Test func eachQueryGetsTheLastFrameAtOrBeforeIt() {
        // Frames at 0, 0.1, 0.2, ...; queries at 0.05 (-> 0), 0.1 (-> 0.1 exactly), 0.25 (-> 0.2), 0.25 again.
        var selector = FrameSelector(queries: [(0.25, 3), (0.05, 0), (0.1, 1), (0.25, 2)])
        #expect(selector.slotsBefore(0.1) == [0])  // frame 0 held until 0.1 arrives
        #expect(selector.slotsBefore(0.2) == [1])
        #expect(selector.slotsBefore(0.3) == [2, 3])
        #expect(selector.isDone)
    }

    @Test func aGridTimeAnUlpBeforeAFrameTimeTakesThatFrame() {
        // 0.1 + 10/15 is 0.7666666666666666 in Double, an ulp below the frame at 23/30 = 0.7666666666666667.
        let grid = ClipSampling.gridTimes(start: 0.1)[10], frame = 23.0 / 30
        try! #require(grid < frame)
        var selector = FrameSelector(queries: [(grid, 0), (frame + 0.01, 1)])
        #expect(selector.slotsBefore(frame).isEmpty)  // the frame before 31/30 does not answer it
        #expect(selector.slotsBefore(frame + 1.0 / 30) == [0, 1])
    }

    @Test func queriesAfterTheLastFrameTakeTheLastFrame() {
        var selector = FrameSelector(queries: [(0.0, 0), (5, 1), (6, 2)])
        #expect(selector.slotsBefore(0.5) == [0])
        #expect(selector.remainingSlots() == [1, 2])
        #expect(selector.isDone)
    }

    @Test func cropOffsetsMatchTorchvision() {
        // torchvision: int(round((128 - 112) / 2)) = 8, int(round((171 - 112) / 2)) = round(29.5) = 30.
        #expect(TorchvisionTransform.cropTop == 8 && TorchvisionTransform.cropLeft == 30)
    }

    @Test func bilinearTapsFollowPyTorch() {
        // Downscale 640 -> 171: scale 3.7426...; output 0 samples 0.5 * scale - 0.5.
        let tap = TorchvisionTransform.tap(output: 0, inputSize: 640, outputSize: 171)
        let real = Float(640) / 171 * 0.5 - 0.5
        #expect(tap.i0 == 1 && tap.i1 == 2 && abs(tap.w1 - (real - 1)) < 1e-6)
        // Upscale: a negative source coordinate clamps to 0.
        let up = TorchvisionTransform.tap(output: 0, inputSize: 100, outputSize: 171)
        #expect(up.i0 == 0 && up.w1 == 0)
        // The last column does not read past the edge.
        let last = TorchvisionTransform.tap(output: 170, inputSize: 100, outputSize: 171)
        #expect(last.i1 == 99)
    }
}
