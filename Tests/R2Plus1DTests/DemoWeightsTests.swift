import Foundation
import R2Plus1D
import Testing

/// The demo weights tell visually different clips apart, as timelines and segments built on them need.
@Suite struct DemoWeightsTests {
    static let frames = 16
    static let size = 112

    /// A (3, 16, 112, 112) clip in Kinetics-normalised range from a pixel function of (channel, frame, y, x) in [0, 1].
    static func clip(_ pixel: (Int, Int, Float, Float) -> Float) -> [Float] {
        var data: [Float] = []
        data.reserveCapacity(3 * frames * size * size)
        for c in 0..<3 {
            for t in 0..<frames {
                for y in 0..<size {
                    for x in 0..<size { data.append((pixel(c, t, Float(y) / Float(size), Float(x) / Float(size)) - 0.4) / 0.22) }
                }
            }
        }
        return data
    }

    /// Clips unlike each other and unlike the calibration batch's: a diagonal gradient, fine vertical stripes
    /// scrolling, a large checkerboard, noise, flat green, flat grey, a bright square sliding over dark.
    static let clips: [[Float]] = {
        let noise = Tensor.random(shape: [3 * frames * size * size], seed: 7).data.map { $0 * 1.5 }
        return [
            clip { c, _, y, x in (x + y) / 2 * Float(c + 1) / 3 },
            clip { _, t, _, x in Int(20 * x + Float(t) / 4) % 2 == 0 ? 1 : 0 },
            clip { _, _, y, x in (Int(3 * x) + Int(3 * y)) % 2 == 0 ? 0.95 : 0.05 },
            noise,
            clip { c, _, _, _ in c == 1 ? 0.8 : 0.1 },
            clip { _, _, _, _ in 0.5 },
            clip { _, t, y, x in abs(x - 0.2 - Float(t) / 30) < 0.15 && abs(y - 0.5) < 0.15 ? 1 : 0.05 },
        ]
    }()

    static func softmax(_ logits: ArraySlice<Float>) -> [Double] {
        let top = Double(logits.max()!)
        let exps = logits.map { exp(Double($0) - top) }
        let sum = exps.reduce(0, +)
        return exps.map { $0 / sum }
    }

    @Test func differentClipsGetDifferentTopLabelsAndUnsaturatedScores() throws {
        let model = try R2Plus1D18(weights: DemoWeights.make())
        let classes = model.architecture.classes
        let logits = model.forward(Tensor(shape: [Self.clips.count, 3, Self.frames, Self.size, Self.size],
                                          data: Self.clips.flatMap { $0 }))
        let probabilities = (0..<Self.clips.count).map { Self.softmax(logits.data[($0 * classes)..<(($0 + 1) * classes)]) }
        let top = probabilities.map { p in p.indices.max { p[$0] < p[$1] }! }
        let topScores = zip(top, probabilities).map { $1[$0] }
        // One label for everything is what made a timeline over a changing video show no boundary.
        #expect(Set(top).count >= 5, "top labels \(top)")
        // Neither a flat softmax (no label stands out) nor a confident one for most clips (the starkest, all-or-nothing
        // patterns may still get one label at over 90%).
        #expect(topScores.allSatisfy { $0 > 5.0 / Double(classes) }, "top scores \(topScores)")
        #expect(topScores.filter { $0 > 0.9 }.count * 2 < topScores.count, "top scores \(topScores)")
    }

    @Test func twoMakesAreIdenticalAndSeedsDiffer() {
        let narrow = R2Plus1DArchitecture.torchvision(classes: 7, stemMidplanes: 6, stemPlanes: 8, planes: [8, 8, 16, 16])
        let a = DemoWeights.make(narrow, seed: 3)
        let b = DemoWeights.make(narrow, seed: 3)
        let c = DemoWeights.make(narrow, seed: 4)
        #expect(a.names == b.names && a.names.allSatisfy { a[$0] == b[$0] })
        #expect(a["fc.weight"] != c["fc.weight"] && a["layer1.0.conv1.1.running_mean"] != c["layer1.0.conv1.1.running_mean"])
    }
}
