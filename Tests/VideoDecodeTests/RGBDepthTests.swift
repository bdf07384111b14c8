import Foundation
import TestSupport
import Testing
import VideoDecode

/// Planar RGB deeper than 8 bits (FFV1 archives; HEVC, VP9 and AV1 coded with the identity matrix) carries the same
/// picture as its 8-bit copy. Told a YUV range for such a frame, libswscale 5.1 rescaled the values as limited
/// range (up to 37 levels off, 5 on average); PyAV converts them unchanged.
@Suite struct RGBDepthTests {
    /// A moving picture whose 8-bit values survive a round trip through 10, 12 and 16 bits exactly.
    static let source = TestVideos.lavfi(
        "nullsrc=size=61x33:rate=10,geq=r=128+120*sin(X/20+6*T):g=128+120*sin(Y/15+5*T):b=128+120*sin(X/30+Y/30+4*T)")
        + ["-t", "1.2"]

    static func ffv1(_ name: String, _ pixelFormat: String) throws -> DecodedClips {
        let bytes = try TestVideos.make(name, source + ["-c:v", "ffv1", "-pix_fmt", pixelFormat])
        #expect(try TestVideos.probe(name)["pix_fmt"] == pixelFormat)
        return try ClipDecoder.decode(bytes, clips: 1)
    }

    @Test(arguments: ["gbrp10le", "gbrp12le", "gbrap12le", "gbrp16le"])
    func deepPlanarRGBDecodesAsItsEightBitCopy(_ pixelFormat: String) throws {
        let eightBit = try Self.ffv1("rgb-depth-bgr0.mkv", "bgr0")  // FFV1 decodes 8-bit RGB as packed bgr0
        let deep = try Self.ffv1("rgb-depth-\(pixelFormat).mkv", pixelFormat)
        #expect(deep.frameTimes == eightBit.frameTimes)
        let difference = zip(deep.values, eightBit.values).map { abs($0 - $1) }.max() ?? .infinity
        // One level is 0.0172 to 0.0181 after normalisation; only rounding in the resize may differ.
        #expect(difference < 0.02, "largest difference \(difference)")
    }
}
