import Foundation
import TestSupport
import Testing
import VideoDecode

/// An accepted container cut short (an interrupted recording, a partial upload) is a damaged video, a 422 that
/// says so, not "not a container this service accepts", a 415 that asks for the very format sent.
@Suite struct DamagedContainerTests {
    /// Each container of `ClipDecoderTests.sources`, and MP4 with its index first and last, cut to these lengths.
    static let cuts = [200, 4000]

    static let sources = ClipDecoderTests.sources.filter { $0.container != "mpegts" } + [
        ClipDecoderTests.Source(name: "faststart.mp4", arguments: TestVideos.lavfi("testsrc2=size=320x240:rate=25")
                                    + ["-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"],
                                container: "mov,mp4,m4a,3gp,3g2,mj2", codec: "h264"),
    ]

    @Test(arguments: sources)
    func aCutFileIsCalledDamaged(_ source: ClipDecoderTests.Source) throws {
        let whole = try TestVideos.make(source.name, source.arguments)
        for length in Self.cuts where length < whole.count {
            do {
                _ = try ClipDecoder.decode(whole.prefix(length), clips: 1)
            } catch let error as DecodeError {
                #expect(error.kind != .unsupportedContainer, "\(source.name) cut to \(length) bytes: \(error)")
            }
        }
    }

    /// A recorder writes an MP4's index, the moov box, when it stops; without it no frame can be found.
    @Test func anMP4WithoutItsIndexSaysWhatIsMissing() throws {
        let whole = try TestVideos.h264(seconds: 4)
        let error = try #require(throws: DecodeError.self) { try ClipDecoder.decode(whole.prefix(whole.count * 3 / 5), clips: 1) }
        #expect(error.kind == .nothingDecodable)
        #expect(error.description.contains("moov"), "\(error)")
    }

    /// Still images and bytes no demuxer recognises stay unsupported.
    @Test func whatIsNoContainerStaysUnsupported() throws {
        let jpeg = try TestVideos.make("still.jpg", TestVideos.lavfi("testsrc2=size=320x240") + ["-frames:v", "1"])
        let png = try TestVideos.make("still.png", TestVideos.lavfi("testsrc2=size=320x240") + ["-frames:v", "1"])
        for bytes in [jpeg, png, Data("just some text\n".utf8), Data(repeating: 0, count: 4096)] {
            #expect { try ClipDecoder.decode(bytes, clips: 1) } throws: { ($0 as? DecodeError)?.kind == .unsupportedContainer }
        }
    }
}
