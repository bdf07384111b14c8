/// torchvision's `VideoClassification` preset for R(2+1)D on one RGB frame:
/// resize to 128x171 (bilinear, align_corners=False, no antialiasing, aspect ratio not kept) computed in float
/// and rounded back to uint8 as `F.resize` does on uint8 frames; centre crop 112x112; scale to [0, 1];
/// normalise with Kinetics' mean and std.
///
/// Only the 112x112 crop of the resized frame is computed. Rotation is applied while sampling, so a rotated
/// video costs no extra pass.
struct TorchvisionTransform {
    static let resizeHeight = ClipSpec.kinetics.resizeHeight, resizeWidth = ClipSpec.kinetics.resizeWidth
    static let crop = ClipSpec.kinetics.crop
    static let mean = ClipSpec.kinetics.mean
    static let std = ClipSpec.kinetics.std
    /// torchvision's `center_crop`: int(round((size - crop) / 2)), Python rounding half to even.
    static let cropTop = Int((Double(resizeHeight - crop) / 2).rounded(.toNearestOrEven))
    static let cropLeft = Int((Double(resizeWidth - crop) / 2).rounded(.toNearestOrEven))

    /// Source index pair and weights for one output coordinate.
    struct Tap {
        var i0: Int, i1: Int
        var w0: Float, w1: Float
    }

    let displayWidth: Int, displayHeight: Int
    let rows: [Tap], columns: [Tap]

    init(displayWidth: Int, displayHeight: Int) {
        self.displayWidth = displayWidth
        self.displayHeight = displayHeight
        rows = (0..<Self.crop).map { Self.tap(output: $0 + Self.cropTop, inputSize: displayHeight, outputSize: Self.resizeHeight) }
        columns = (0..<Self.crop).map { Self.tap(output: $0 + Self.cropLeft, inputSize: displayWidth, outputSize: Self.resizeWidth) }
    }

    /// PyTorch's upsample_bilinear2d index arithmetic, in Float as its CPU kernel does for float input.
    static func tap(output: Int, inputSize: Int, outputSize: Int) -> Tap {
        let scale = Float(inputSize) / Float(outputSize)
        let real = max(scale * (Float(output) + 0.5) - 0.5, 0)
        let i0 = Int(real)
        let lambda = min(max(real - Float(i0), 0), 1)
        let i1 = i0 < inputSize - 1 ? i0 + 1 : i0
        return Tap(i0: i0, i1: i1, w0: 1 - lambda, w1: lambda)
    }

    /// `x.rounded(.toNearestOrEven)` for 0 <= x < 2^22, without the libm call Swift makes for it: past 1.5 * 2^23
    /// floats are whole numbers, so the addition rounds x to one (ties to even, the default) and the subtraction
    /// is exact.
    @inline(__always) static func roundedToEven(_ x: Float) -> Float {
        (x + 12_582_912) - 12_582_912
    }

    /// Writes the 3 normalised 112x112 planes of one frame.
    ///
    /// - Parameters:
    ///   - rgb: packed RGB24 rows of the stored (unrotated) frame, `linesize` bytes apart.
    ///   - rotation: clockwise degrees to display (0, 90, 180, 270); the stored size is the display size turned back.
    ///   - output: plane c starts at `output + c * planeStride`.
    func apply(rgb: UnsafePointer<UInt8>, linesize: Int, rotation: Int, output: UnsafeMutablePointer<Float>, planeStride: Int) {
        let storedWidth = rotation % 180 == 0 ? displayWidth : displayHeight
        let storedHeight = rotation % 180 == 0 ? displayHeight : displayWidth
        // Display (x, y) -> byte offset of the stored pixel, a part in x plus a part in y: each computed once per
        // column or row rather than once per pixel.
        let (xTerm, yTerm): ((Int) -> Int, (Int) -> Int)
        switch rotation {
        case 90: (xTerm, yTerm) = ({ (storedHeight - 1 - $0) * linesize }, { $0 * 3 })
        case 180: (xTerm, yTerm) = ({ (storedWidth - 1 - $0) * 3 }, { (storedHeight - 1 - $0) * linesize })
        case 270: (xTerm, yTerm) = ({ $0 * linesize }, { (storedWidth - 1 - $0) * 3 })
        default: (xTerm, yTerm) = ({ $0 * 3 }, { $0 * linesize })
        }
        let x0 = columns.map { xTerm($0.i0) }, x1 = columns.map { xTerm($0.i1) }
        let crop = Self.crop
        for c in 0..<3 {
            let scale = 1 / (255 * Self.std[c]), shift = Self.mean[c] / Self.std[c]
            let plane = output + c * planeStride
            for (oy, r) in rows.enumerated() {
                let top = rgb + yTerm(r.i0) + c, bottom = rgb + yTerm(r.i1) + c
                let line = plane + oy * crop
                for ox in 0..<crop {
                    let w0 = columns[ox].w0, w1 = columns[ox].w1
                    let upper = w0 * Float(top[x0[ox]]) + w1 * Float(top[x1[ox]])
                    let lower = w0 * Float(bottom[x0[ox]]) + w1 * Float(bottom[x1[ox]])
                    let value = min(max(Self.roundedToEven(r.w0 * upper + r.w1 * lower), 0), 255)
                    line[ox] = value * scale - shift
                }
            }
        }
    }
}
