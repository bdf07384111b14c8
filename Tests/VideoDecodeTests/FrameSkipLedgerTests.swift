import Testing
@testable import VideoDecode

/// The bookkeeping behind dropping unneeded non-reference frames, on the decode order an H.264 stream with
/// B-frames produces: I0 P3 B1 B2 P6 B4 B5 (times in frames).
@Suite struct FrameSkipLedgerTests {
    static let decodeOrder: [Int64] = [0, 3, 1, 2, 6, 4, 5]

    /// Queries at these frame times only; a frame is unneeded when none falls in [its time, the witness's).
    static func unneeded(queries: [Int64]) -> (Int64, Int64) -> Bool {
        { from, to in !queries.contains { $0 >= from && $0 < to } }
    }

    /// Sends `times` in order; returns the ones given leave to be dropped.
    static func send(_ times: [Int64], to ledger: inout FrameSkipLedger, queries: [Int64]) -> [Int64] {
        times.filter { ledger.send($0, unneeded: unneeded(queries: queries)) }
    }

    /// Outputs `times` in order; returns whether each bore the choices out.
    static func output(_ times: [Int64], to ledger: inout FrameSkipLedger) -> [Bool] {
        times.map { ledger.output($0) }
    }

    @Test func onlyFramesWithALaterFrameKnownAndNoQueryBeforeItAreDroppable() {
        var ledger = FrameSkipLedger()
        // 1 and 2: query 2 lies in [1, 3) and [2, 3); 4: query 4; 5: nothing asks in [5, 6).
        #expect(Self.send(Self.decodeOrder, to: &ledger, queries: [0, 2, 4]) == [5])
        #expect(ledger.isActive)
    }

    @Test func framesAQueryNeedsAreNeverDroppable() {
        var ledger = FrameSkipLedger()
        #expect(Self.send(Self.decodeOrder, to: &ledger, queries: [1, 2, 4, 5]).isEmpty)
        #expect(!ledger.isActive)
    }

    @Test func theLastFrameSentIsNeverDroppableWithoutALaterOne() {
        var ledger = FrameSkipLedger()
        #expect(Self.send([0, 3], to: &ledger, queries: []).isEmpty)
    }

    @Test func outputThatBearsTheChoicesOutPasses() {
        var ledger = FrameSkipLedger()
        #expect(Self.send(Self.decodeOrder, to: &ledger, queries: [0, 3, 6]) == [1, 2, 4, 5])
        // The decoder dropped 1 and 4 (non-reference) and output 2 and 5 (references in a B-pyramid).
        #expect(Self.output([0, 2, 3, 5, 6], to: &ledger) == [true, true, true, true, true])
        #expect(ledger.isBorneOutAtEnd)
    }

    @Test func aWitnessThatNeverComesOutIsCaught() {
        var ledger = FrameSkipLedger()
        _ = Self.send([0, 3, 1, 2, 6], to: &ledger, queries: [0, 3, 6])
        // Frame 3 was lost: 1 and 2 were dropped on its word.
        #expect(Self.output([0, 6], to: &ledger) == [true, false])
    }

    @Test func aMissingWitnessAtTheEndIsCaught() {
        var ledger = FrameSkipLedger()
        #expect(Self.send([0, 3, 1], to: &ledger, queries: [0]) == [1])
        #expect(Self.output([0], to: &ledger) == [true])
        #expect(!ledger.isBorneOutAtEnd)
        #expect(Self.output([3], to: &ledger) == [true])
        #expect(ledger.isBorneOutAtEnd)
    }

    @Test func aDroppedWitnessIsCoveredByItsOwnWitness() {
        var ledger = FrameSkipLedger()
        // 2 is dropped on 3's word, then 1 on 2's; 2 never comes out, 3 does.
        #expect(Self.send([0, 3, 2, 1], to: &ledger, queries: [0]) == [2, 1])
        #expect(Self.output([0, 3], to: &ledger) == [true, true])
        #expect(ledger.isBorneOutAtEnd)
    }

    @Test func outputOutOfOrderOrRepeatedFails() {
        var ledger = FrameSkipLedger()
        #expect(Self.output([4, 4], to: &ledger) == [true, false])
        var other = FrameSkipLedger()
        #expect(Self.output([4, 2], to: &other) == [true, false])
    }

    @Test func aDuplicateTimeIsNeverDropped() {
        var ledger = FrameSkipLedger()
        #expect(Self.send([0, 3, 3, 1], to: &ledger, queries: []) == [1])
    }

    @Test func resetForgetsEverything() {
        var ledger = FrameSkipLedger()
        #expect(Self.send([3, 1], to: &ledger, queries: []) == [1])
        ledger.reset()
        #expect(!ledger.isActive && ledger.isBorneOutAtEnd)
        #expect(Self.send([1], to: &ledger, queries: []).isEmpty)
    }
}
