import Foundation
import Service
import Testing

@Suite struct ClassificationTests {
    @Test func softmaxIsAveragedOverClipsThenRanked() {
        let labels = Labels(names: ["a", "b", "c"])
        // Clip 1 prefers a, clip 2 prefers c strongly: the average ranks c, a, b.
        let logits: [[Float]] = [[2, 0, 1], [0, 0, 5]]
        let predictions = Classification.predictions(logits: logits, labels: labels, topK: 3)
        func softmax(_ x: [Float]) -> [Double] {
            let e = x.map { Foundation.exp(Double($0)) }
            return e.map { $0 / e.reduce(0, +) }
        }
        let (s1, s2) = (softmax(logits[0]), softmax(logits[1]))
        let expected = (0..<3).map { (s1[$0] + s2[$0]) / 2 }
        #expect(predictions.map(\.label) == ["c", "a", "b"])
        for p in predictions { #expect(abs(p.score - expected[p.index]) < 1e-12) }
        #expect(abs(predictions.map(\.score).reduce(0, +) - 1) < 1e-12)
        #expect(Classification.predictions(logits: logits, labels: labels, topK: 1).map(\.index) == [2])
        // Large logits do not overflow.
        #expect(Classification.predictions(logits: [[1000, 0, 999]], labels: labels, topK: 1)[0].score.isFinite)
    }
}
