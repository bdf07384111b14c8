@testable import DecodeSandbox
import Foundation
import Glibc
import TestSupport
import Testing
import VideoDecode

/// A timeline's walk: its messages from bytes, and real workers walking a video as this process would.
@Suite(.serialized) struct WorkerWalkTests {
    static let grid = WindowGrid(windowSeconds: 1, strideSeconds: 0.75, startSeconds: 0.5, endSeconds: 3)
    static let walk = WorkerWire.WalkRequest(sequence: 9, videoBytes: 4321, chunk: 3, grid: grid)

    func reply(_ reply: WorkerWire.WalkReply, sequence: UInt64 = 9) throws(WorkerWire.ProtocolError) -> WorkerWire.WalkReply {
        try WorkerWire.decodeWalkReply(WorkerWire.encode(reply, sequence: sequence), for: Self.walk, maxDimension: 4096)
    }

    @Test func walkMessagesRoundTrip() throws {
        #expect(try WorkerWire.decodeAnyRequest(WorkerWire.encode(Self.walk)) == .walk(Self.walk))
        var open = Self.walk
        open.grid.endSeconds = nil
        #expect(try WorkerWire.decodeAnyRequest(WorkerWire.encode(open)) == .walk(open))
        let decode = WorkerWire.Request(sequence: 2, videoBytes: 10, clips: 1)
        #expect(try WorkerWire.decodeAnyRequest(WorkerWire.encode(decode)) == .decode(decode))
        for clips in 1...3 { #expect(try reply(.chunk(WorkerWireTests.decoded(clips: clips))) == .chunk(WorkerWireTests.decoded(clips: clips))) }
        #expect(try reply(.end) == .end)
        #expect(try reply(.failed(.emptyInput)) == .failed(.emptyInput))
        for more in [true, false] {
            #expect(try WorkerWire.decodeGoOn(WorkerWire.encodeGoOn(sequence: 9, more: more), sequence: 9) == more)
        }
    }

    @Test func walkMessagesThatDoNotCheckOutAreRefused() {
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.chunk(WorkerWireTests.decoded(clips: 4))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.chunk(WorkerWireTests.decoded(clips: 0))) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.end, sequence: 8) }
        #expect(throws: WorkerWire.ProtocolError.self) { try reply(.chunk(WorkerWireTests.decoded(clips: 1, times: .nan))) }
        // A single-clip decode's reply is not a walk's.
        #expect(throws: WorkerWire.ProtocolError.self) {
            try WorkerWire.decodeWalkReply(WorkerWire.encode(.decoded(WorkerWireTests.decoded(clips: 1)), sequence: 9),
                                           for: Self.walk, maxDimension: 4096)
        }
        #expect(throws: WorkerWire.ProtocolError.self) { try WorkerWire.decodeGoOn(WorkerWire.encodeGoOn(sequence: 8, more: true), sequence: 9) }
        #expect(throws: WorkerWire.ProtocolError.self) { try WorkerWire.decodeGoOn(WorkerWire.encodeGoOn(sequence: 9, more: true) + [0], sequence: 9) }
        for bad in [WindowGrid(windowSeconds: 0, strideSeconds: 1), WindowGrid(windowSeconds: 1, strideSeconds: .nan),
                    WindowGrid(windowSeconds: 1, strideSeconds: 1, startSeconds: -1), WindowGrid(windowSeconds: 1, strideSeconds: 1, startSeconds: 2, endSeconds: 1)] {
            var walk = Self.walk
            walk.grid = bad
            #expect(throws: WorkerWire.ProtocolError.self) { try WorkerWire.decodeAnyRequest(WorkerWire.encode(walk)) }
        }
        var noChunk = Self.walk
        noChunk.chunk = 0
        #expect(throws: WorkerWire.ProtocolError.self) { try WorkerWire.decodeAnyRequest(WorkerWire.encode(noChunk)) }
    }

    @Test func aWorkerWalksExactlyAsThisProcessWould() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let decoder = SandboxedDecoderTests.decoder()
        defer { decoder.stop() }
        let grid = WindowGrid(windowSeconds: 16.0 / 15, strideSeconds: 0.5)
        var sandboxed: [DecodedClips] = []
        let info = try decoder.walk(video, grid: grid, chunk: 4) { sandboxed.append($0); return true }
        var local: [DecodedClips] = []
        let localInfo = try ClipDecoder.walk(video, grid: grid, chunk: 4) { local.append($0); return true }
        #expect(info == localInfo && sandboxed.count == local.count && sandboxed.count == 3)
        #expect(sandboxed.map(\.clipCount) == [4, 4, 4])
        for (a, b) in zip(sandboxed, local) {
            #expect(a.values == b.values && a.frameTimes == b.frameTimes && a.spans == b.spans)
        }
        // The worker carries on with ordinary uploads.
        let pid = try #require(decoder.workerPID)
        #expect(try decoder.decode(video, clips: 2).clipCount == 2)
        #expect(decoder.workerPID == pid)
    }

    @Test func stoppingOrFailingMidWalkLeavesTheWorkerReady() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let decoder = SandboxedDecoderTests.decoder()
        defer { decoder.stop() }
        let grid = WindowGrid(windowSeconds: 0.5, strideSeconds: 0.5)
        var chunks = 0
        _ = try decoder.walk(video, grid: grid, chunk: 2) { _ in chunks += 1; return false }
        #expect(chunks == 1)
        struct Refused: Error {}
        #expect(throws: Refused.self) { try decoder.walk(video, grid: grid, chunk: 2) { _ in throw Refused() } }
        let pid = try #require(decoder.workerPID)
        var windows = 0
        _ = try decoder.walk(video, grid: grid, chunk: 4) { windows += $0.clipCount; return true }
        #expect(windows == 12 && decoder.workerPID == pid)
    }

    @Test func aRangeBeyondTheVideoAndABadVideoAreTheWorkersOwnErrors() throws {
        let video = try TestVideos.h264(seconds: 3, gop: 30)
        let decoder = SandboxedDecoderTests.decoder()
        defer { decoder.stop() }
        #expect { try decoder.walk(video, grid: WindowGrid(windowSeconds: 1, strideSeconds: 1, startSeconds: 10), chunk: 2) { _ in true } }
            throws: { ($0 as? DecodeError)?.kind == .nothingDecodable && "\($0)".contains("no window starts") }
        #expect(throws: DecodeError.self) { try decoder.walk(Data("not a video".utf8), grid: Self.grid, chunk: 2) { _ in true } }
    }

    @Test func aWorkerKilledMidWalkCostsThatWalkOnly() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let restarts = SandboxedDecoderTests.Restarts()
        let decoder = SandboxedDecoderTests.decoder(restarts: restarts)
        defer { decoder.stop() }
        let grid = WindowGrid(windowSeconds: 0.5, strideSeconds: 0.5)
        #expect { try decoder.walk(video, grid: grid, chunk: 1) { _ in
            if let pid = decoder.workerPID { kill(pid, SIGKILL) }
            return true
        } } throws: { ($0 as? DecodeError)?.kind == .outOfMemory }
        #expect(restarts.all == ["out_of_memory"])
        #expect(try decoder.decode(video, clips: 1).clipCount == 1)
    }
}
