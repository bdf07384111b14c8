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

    /// Writes the 3 normalised 112x112 planes of one frame.
    ///
    /// - Parameters:
    ///   - rgb: packed RGB24 rows of the stored (unrotated) frame, `linesize` bytes apart.
    ///   - rotation: clockwise degrees to display (0, 90, 180, 270); the stored size is the display size turned back.
    ///   - output: plane c starts at `output + c * planeStride`.
    func apply(rgb: UnsafePointer<UInt8>, linesize: Int, rotation: Int, output: UnsafeMutablePointer<Float>, planeStride: Int) {
        let storedWidth = rotation % 180 == 0 ? displayWidth : displayHeight
        let storedHeight = rotation % 180 == 0 ? displayHeight : displayWidth
        // Display (x, y) -> byte offset of the stored pixel.
        @inline(__always) func offset(_ x: Int, _ y: Int) -> Int {
            switch rotation {
            case 90: return (storedHeight - 1 - x) * linesize + y * 3
            case 180: return (storedHeight - 1 - y) * linesize + (storedWidth - 1 - x) * 3
            case 270: return x * linesize + (storedWidth - 1 - y) * 3
            default: return y * linesize + x * 3
            }
        }
        var scale: [Float] = [], shift: [Float] = []
        for c in 0..<3 {
            scale.append(1 / (255 * Self.std[c]))
            shift.append(Self.mean[c] / Self.std[c])
        }
        for (oy, r) in rows.enumerated() {
            for (ox, col) in columns.enumerated() {
                let p00 = offset(col.i0, r.i0), p01 = offset(col.i1, r.i0)
                let p10 = offset(col.i0, r.i1), p11 = offset(col.i1, r.i1)
                for c in 0..<3 {
                    let top = col.w0 * Float(rgb[p00 + c]) + col.w1 * Float(rgb[p01 + c])
                    let bottom = col.w0 * Float(rgb[p10 + c]) + col.w1 * Float(rgb[p11 + c])
                    let value = min(max((r.w0 * top + r.w1 * bottom).rounded(.toNearestOrEven), 0), 255)
                    output[c * planeStride + oy * Self.crop + ox] = value * scale[c] - shift[c]
                }
            }
        }
    }
}
