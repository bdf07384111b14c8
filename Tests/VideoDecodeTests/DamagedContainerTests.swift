import Foundation
import TestSupport
import Testing
@testable import VideoDecode

/// An accepted container cut short (an interrupted recording, a partial upload) is a damaged video, a 422 that
/// says so, not "not a container this service accepts", a 415 that asks for the very format sent.
@Suite struct DamagedContainerTests {
    struct Cut: Sendable, CustomTestStringConvertible {
        var source: String
        var length: Int
        /// What the message must name: the format, or the MP4's missing box.
        var named: String
        var testDescription: String { "\(source) cut to \(length) bytes" }
    }

    /// Cuts that FFmpeg cannot open: before an AVI's or an Ogg file's first frame, inside a Matroska header, and
    /// anywhere in an MP4 whose index comes last.
    static let cuts = [
        Cut(source: "mpeg4_audio.avi", length: 200, named: "AVI"), Cut(source: "mpeg4_audio.avi", length: 4000, named: "AVI"),
        Cut(source: "rgb.avi", length: 200, named: "AVI"), Cut(source: "theora.ogv", length: 200, named: "Ogg"),
        Cut(source: "theora.ogv", length: 4000, named: "Ogg"), Cut(source: "vp9.webm", length: 200, named: "Matroska"),
        Cut(source: "10bit.mkv", length: 200, named: "Matroska"), Cut(source: "odd_444.mp4", length: 200, named: "moov box"),
        Cut(source: "odd_444.mp4", length: 4000, named: "moov box"),
    ]

    @Test(arguments: cuts)
    func aCutFileIsCalledCutShort(_ cut: Cut) throws {
        let source = try #require(ClipDecoderTests.sources.first { $0.name == cut.source })
        let whole = try TestVideos.make(source.name, source.arguments)
        let error = try #require(throws: DecodeError.self) { try ClipDecoder.decode(whole.prefix(cut.length), clips: 1) }
        #expect(error.kind == .nothingDecodable)
        #expect(error.description.contains("cut short") && error.description.contains(cut.named), "\(error)")
    }

    /// However a file of any accepted container is cut, from 200 bytes on, it is never called unsupported. (Shorter,
    /// a Matroska or FLV header does not yet say what it is, nor do a few MPEG-TS packets.)
    @Test func noCutOfAnAcceptedContainerIsUnsupported() throws {
        for source in ClipDecoderTests.sources where source.container != "mpegts" {
            let whole = try TestVideos.make(source.name, source.arguments)
            for length in [200, 1000, 4000, whole.count / 2] {
                do {
                    _ = try ClipDecoder.decode(whole.prefix(length), clips: 1)
                } catch let error as DecodeError {
                    #expect(error.kind != .unsupportedContainer, "\(source.name) cut to \(length) bytes: \(error)")
                }
            }
        }
    }

    /// Still images and bytes no accepted demuxer takes stay unsupported: among them the photos in ISO files (HEIF,
    /// AVIF), which FFmpeg's MP4 demuxer takes on and finds no movie in.
    @Test func whatIsNoVideoStaysUnsupported() throws {
        let jpeg = try TestVideos.make("still.jpg", TestVideos.lavfi("testsrc2=size=320x240") + ["-frames:v", "1"])
        let png = try TestVideos.make("still.png", TestVideos.lavfi("testsrc2=size=320x240") + ["-frames:v", "1"])
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
            withUnsafeBytes(of: UInt32(8 + payload.count).bigEndian, Array.init) + Array(type.utf8) + payload
        }
        func photo(_ brand: String) -> Data {
            let handler = box("hdlr", [UInt8](repeating: 0, count: 8) + Array("pict".utf8) + [UInt8](repeating: 0, count: 13))
            return Data(box("ftyp", Array(brand.utf8) + [0, 0, 0, 0] + Array("mif1\(brand)".utf8)) + box("meta", [0, 0, 0, 0] + handler)
                        + box("mdat", [UInt8](repeating: 0x55, count: 2000)))
        }
        for (name, bytes) in [("jpeg", jpeg), ("png", png), ("text", Data("just some text\n".utf8)), ("zeros", Data(count: 4096)),
                              ("heic", photo("heic")), ("avif", photo("avif"))] {
            let error = try #require(throws: DecodeError.self, "\(name)") { try ClipDecoder.decode(bytes, clips: 1) }
            #expect(error.kind == .unsupportedContainer, "\(name): \(error)")
        }
    }

    @Test func aRecorderWritesTheIndexLast() {
        func box(_ type: String, size: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(size).bigEndian, Array.init) + Array(type.utf8) }
        let ftyp = box("ftyp", size: 16) + Array("isom".utf8) + [0, 0, 2, 0]
        // The frames, then the index; cut before the index, or inside it.
        let recording = ftyp + box("mdat", size: 108) + [UInt8](repeating: 1, count: 100) + box("moov", size: 50)
        #expect(OpenFailure.TopLevelBoxes(Data(recording)).holdMovie)
        #expect(OpenFailure.TopLevelBoxes(Data(recording)).brand == "isom")
        #expect(!OpenFailure.TopLevelBoxes(Data(recording.prefix(100))).holdMovie)
        // Sizes that are too small, run past the end, or take 64 bits end the walk, wherever they point.
        #expect(!OpenFailure.TopLevelBoxes(Data(ftyp + box("free", size: 4) + box("moov", size: 8))).holdMovie)
        #expect(!OpenFailure.TopLevelBoxes(Data(ftyp + box("mdat", size: 1) + [UInt8](repeating: 0xFF, count: 8) + box("moov", size: 8))).holdMovie)
        #expect(OpenFailure.TopLevelBoxes(Data(ftyp + box("mdat", size: 1) + [0, 0, 0, 0, 0, 0, 0, 16] + box("moov", size: 8))).holdMovie)
    }
}
