import Foundation

/// The element types weight files store, and their conversion to Float32.
enum ElementType: String, Sendable {
    case float32, float16, bfloat16, float64

    var size: Int {
        switch self {
        case .float32: 4
        case .float16, .bfloat16: 2
        case .float64: 8
        }
    }

    /// Converts the elements of `shape`, `strides` (in elements) apart, starting `byteOffset` bytes into `bytes`.
    /// The caller has checked that every element lies inside `bytes`.
    func floats(_ bytes: Data, byteOffset: Int, shape: [Int], strides: [Int]) -> [Float] {
        let count = shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + byteOffset
            let contiguous = strides == Self.contiguousStrides(shape)
            for i in 0..<count {
                var element = i
                if !contiguous {
                    element = 0
                    var rest = i
                    for d in stride(from: shape.count - 1, through: 0, by: -1) {
                        element += (rest % shape[d]) * strides[d]
                        rest /= shape[d]
                    }
                }
                out[i] = value(at: base + element * size)
            }
        }
        return out
    }

    @inline(__always)
    private func value(at p: UnsafeRawPointer) -> Float {
        switch self {
        case .float32: Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        case .float16: Self.halfToFloat(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
        case .bfloat16: Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16)
        case .float64: Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
        }
    }

    /// IEEE 754 binary16 -> binary32, subnormals, infinities and NaN included.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        // An empty tensor is read nowhere, and the product of its other dimensions may overflow.
        if shape.contains(0) { return [Int](repeating: 0, count: shape.count) }
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = running
            running *= shape[d]
        }
        return strides
    }
}
