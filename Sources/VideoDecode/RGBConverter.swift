import CFFmpeg

/// Converts decoded frames of any pixel format to packed RGB24 at their own size with libswscale, honouring
/// the frame's colour matrix (BT.601, BT.709, ...) and range (limited or full, yuvj formats included).
final class RGBConverter {
    private var context: OpaquePointer?
    private var buffer: UnsafeMutablePointer<UInt8>?
    private var capacity = 0
    private(set) var linesize = 0

    /// What PyAV's `to_ndarray(format="rgb24")` uses, so frames match the reference pipeline (chroma upsampling
    /// included: SWS_FULL_CHR_H_INT would differ by up to 20 levels at colour edges).
    static let flags = SWS_BILINEAR

    deinit {
        sws_freeContext(context)
        buffer?.deallocate()
    }

    /// - Returns: the RGB24 rows, `linesize` bytes apart, valid until the next call.
    /// - Throws: `DecodeError.dimensionsTooLarge` for a frame over the limit, `.internalFailure` if swscale refuses.
    func convert(_ frame: UnsafePointer<AVFrame>, limits: DecodeLimits) throws -> UnsafePointer<UInt8> {
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        guard width > 0, height > 0, width <= limits.maxDimension, height <= limits.maxDimension else {
            throw DecodeError.dimensionsTooLarge(width: width, height: height, limit: limits.maxDimension)
        }
        let format = AVPixelFormat(frame.pointee.format)
        context = sws_getCachedContext(context, Int32(width), Int32(height), format, Int32(width), Int32(height),
                                       AV_PIX_FMT_RGB24, Self.flags, nil, nil, nil)
        guard let context else {
            throw DecodeError.nothingDecodable(detail: "cannot convert pixel format \(Self.name(of: format)) to RGB")
        }
        let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || Self.isJPEGFormat(format)
        // sws_getCoefficients takes the SWS_CS_* numbers, which equal AVColorSpace's for the matrices it knows and
        // fall back to BT.601 for the rest (unspecified included).
        let coefficients = sws_getCoefficients(Int32(frame.pointee.colorspace.rawValue))
        _ = sws_setColorspaceDetails(context, coefficients, fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     0, 1 << 16, 1 << 16)
        linesize = (width * 3 + 63) & ~63
        if capacity < linesize * height {
            buffer?.deallocate()
            capacity = linesize * height
            buffer = .allocate(capacity: capacity)
        }
        var destination: [UnsafeMutablePointer<UInt8>?] = [buffer, nil, nil, nil]
        var strides: [Int32] = [Int32(linesize), 0, 0, 0]
        let source = withUnsafeBytes(of: frame.pointee.data) { raw in
            Array(raw.bindMemory(to: UnsafeMutablePointer<UInt8>?.self).prefix(4)).map { UnsafePointer($0) }
        }
        let sourceStrides = withUnsafeBytes(of: frame.pointee.linesize) { Array($0.bindMemory(to: Int32.self).prefix(4)) }
        let rows = sws_scale(context, source, sourceStrides, 0, Int32(height), &destination, &strides)
        guard rows == Int32(height) else { throw DecodeError.internalFailure(detail: "swscale converted \(rows) of \(height) rows") }
        return UnsafePointer(buffer!)
    }

    private static func isJPEGFormat(_ format: AVPixelFormat) -> Bool {
        [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P].contains(format)
    }

    static func name(of format: AVPixelFormat) -> String {
        av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "\(format.rawValue)"
    }
}
