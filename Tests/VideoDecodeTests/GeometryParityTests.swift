import Foundation
import Testing
import VideoDecode

/// Our decode + transform against PyAV + torchvision on a few matrix clips (tools/make_geometry_fixtures.py):
/// the same frames, and each frame within one uint8 level, the rounding of the two resizes' last step.
@Suite struct GeometryParityTests {
    struct Fixtures: Decodable {
        var cases: [Case]
    }

    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var shape: [Int]
        var duration_s: Double
        var frame_times: [[Double]]
        var testDescription: String { name }
    }

    static let cases: [Case] = (try? JSONDecoder().decode(Fixtures.self, from: fixture("geometry/parity.json")).cases) ?? []

    static let mean: [Float] = [0.43216, 0.394666, 0.37645], std: [Float] = [0.22803, 0.22145, 0.216989]
    static let plane = 112 * 112, frames = 16

    @Test func everyFixtureIsThere() {
        #expect(Self.cases.count == 6)
    }

    @Test(arguments: cases)
    func matchesPyAVAndTorchvision(_ expected: Case) throws {
        let reference = [UInt8](try fixture("geometry/\(expected.name).u8"))
        let decoded = try ClipDecoder.decode(try fixture("geometry/\(expected.name)"), clips: 1)
        #expect(decoded.shape == expected.shape)
        #expect(abs(decoded.info.durationSeconds - expected.duration_s) < 1e-9)
        try #require(reference.count == decoded.values.count)

        let ours = decoded.frameTimes[0], theirs = expected.frame_times[0]
        let sameFrames = zip(ours, theirs).allSatisfy { abs($0 - $1) < 1e-6 }
        #expect(sameFrames, "frame times \(ours) vs \(theirs)")

        // Pixels: each of our frames against the reference's frame of the same time.
        var worst: Float = 0, worstNormalised: Float = 0, total: Float = 0, compared = 0
        for (k, time) in ours.enumerated() {
            guard let j = theirs.firstIndex(where: { abs($0 - time) < 1e-6 }) else { continue }
            for c in 0..<3 {
                let mine = ((c * Self.frames) + k) * Self.plane, reference0 = ((c * Self.frames) + j) * Self.plane
                for i in 0..<Self.plane {
                    let value = (Float(reference[reference0 + i]) / 255 - Self.mean[c]) / Self.std[c]
                    // In uint8 levels: 1 is one level, whatever the channel's std.
                    let normalised = abs(decoded.values[mine + i] - value), difference = normalised * 255 * Self.std[c]
                    worst = max(worst, difference)
                    worstNormalised = max(worstNormalised, normalised)
                    total += difference
                }
            }
            compared += 1
        }
        #expect(compared >= 12, "only \(compared) of 16 frames have a reference frame of the same time")
        let average = total / Float(compared * 3 * Self.plane)
        #expect(worst <= 1.001, "max |difference| \(worst) levels")
        print("\(expected.name): \(compared) frames, max |difference| \(worst) levels (\(worstNormalised) normalised), mean \(average) levels")
    }
}
