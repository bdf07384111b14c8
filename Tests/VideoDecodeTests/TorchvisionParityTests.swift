import Foundation
import TestSupport
import Testing
import VideoDecode

/// Our decode + transform against PyAV + torchvision's VideoClassification preset (tools/make_decode_fixtures.py).
@Suite struct TorchvisionParityTests {
    struct Expected: Decodable {
        var shape: [Int]
        var frame_times: [[Double]]
        var duration_s: Double
    }

    @Test func realClipMatchesTorchvisionPreset() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: fixture("bikes_expected.json"))
        let bytes = [UInt8](try fixture("bikes_expected.u8"))
        let decoded = try ClipDecoder.decode(try fixture("bikes.mp4"), clips: 2)
        #expect(decoded.shape == expected.shape)
        #expect(decoded.info.durationSeconds == expected.duration_s)
        for (mine, theirs) in zip(decoded.frameTimes, expected.frame_times) {
            #expect(zip(mine, theirs).allSatisfy { abs($0 - $1) < 1e-6 }, "\(mine) vs \(theirs)")
        }
        let mean: [Float] = [0.43216, 0.394666, 0.37645], std: [Float] = [0.22803, 0.22145, 0.216989]
        let perChannel = 16 * 112 * 112
        var worst: Float = 0, total: Float = 0
        for i in 0..<bytes.count {
            let c = (i / perChannel) % 3
            let reference = (Float(bytes[i]) / 255 - mean[c]) / std[c]
            let difference = abs(decoded.values[i] - reference)
            worst = max(worst, difference)
            total += difference
        }
        let average = total / Float(bytes.count)
        // One uint8 level in the channel of smallest std (blue): 1 / 255 / 0.216989.
        #expect(worst <= 0.0181, "max |difference| \(worst)")
        #expect(average <= 0.005, "mean |difference| \(average)")
        print("parity with PyAV + torchvision: max |difference| \(worst), mean \(average)")
    }
}
