import Testing
@testable import VideoDecode

@Suite struct TorchvisionTransformTests {
    /// The add-and-subtract rounding equals `rounded(.toNearestOrEven)` on the preset's whole range: every
    /// multiple of 1/4096 up to 256, and each half-integer tie with its neighbours an ulp either side.
    @Test func roundingMatchesRoundHalfToEven() {
        var mismatches: [Float] = []
        func check(_ x: Float) {
            if TorchvisionTransform.roundedToEven(x) != x.rounded(.toNearestOrEven) { mismatches.append(x) }
        }
        for k in 0...(256 * 4096) { check(Float(k) / 4096) }
        for n in 0...256 {
            let tie = Float(n) + 0.5
            for x in [tie.nextDown, tie, tie.nextUp, Float(n).nextDown, Float(n).nextUp] where x >= 0 { check(x) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
