import CFFmpeg

/// Converts decoded frames of any pixel format to packed RGB24 at their own size with libswscale, honouring
/// the frame's colour matrix (BT.601, BT.709, ...) and range (limited or full, yuvj formats included).
///
/// The destination is an AVFrame whose buffer `av_frame_get_buffer` allocates: swscale's SIMD output stores whole
/// vectors past the last pixel of a row, and only FFmpeg's own allocator adds the alignment, the rows and the tail
/// it needs for that (a buffer of exactly `linesize * height` was overrun on 426x240).
final class RGBConverter {
    private var context: OpaquePointer?
    /// What `context` was made for.
    private var contextKey: ContextKey?
    private let destination: Frame

    private struct ContextKey: Equatable {
        var width: Int32, height: Int32, format: Int32, chromaLocation: AVChromaLocation
    }
    var linesize: Int { Int(destination.frame.pointee.linesize.0) }

    /// The alignment asked of FFmpeg's allocator: a whole AVX-512 vector.
    static let alignment: Int32 = 64

    init() throws { destination = try Frame() }

    /// What PyAV's `to_ndarray(format="rgb24")` uses, so frames match the reference pipeline (chroma upsampling
    /// included: SWS_FULL_CHR_H_INT would differ by up to 20 levels at colour edges).
    static let flags = SWS_BILINEAR

    deinit { sws_freeContext(context) }

    /// - Returns: the RGB24 rows, `linesize` bytes apart, valid until the next call.
    /// - Throws: `DecodeError.dimensionsTooLarge` for a frame over the limit, `.internalFailure` if swscale refuses.
    func convert(_ frame: UnsafePointer<AVFrame>, limits: DecodeLimits) throws -> UnsafePointer<UInt8> {
        let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
        guard width > 0, height > 0, width <= limits.maxDimension, height <= limits.maxDimension else {
            throw DecodeError.dimensionsTooLarge(width: width, height: height, limit: limits.maxDimension)
        }
        let format = AVPixelFormat(frame.pointee.format)
        let key = ContextKey(width: Int32(width), height: Int32(height), format: format.rawValue,
                             chromaLocation: frame.pointee.chroma_location)
        if key != contextKey {
            sws_freeContext(context)
            context = Self.makeContext(key)
            contextKey = key
        }
        guard let context else {
            throw DecodeError.nothingDecodable(detail: "cannot convert pixel format \(Self.name(of: format)) to RGB")
        }
        // Only YUV has a matrix and range to tell: given them for planar RGB deeper than 8 bits, swscale 5.1
        // rescales its values as limited range (up to 37 levels off).
        if !Self.isRGB(format) {
            let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG || Self.isJPEGFormat(format)
            // sws_getCoefficients takes the SWS_CS_* numbers, which equal AVColorSpace's for the matrices it knows
            // and fall back to BT.601 for the rest (unspecified included).
            let coefficients = sws_getCoefficients(Int32(frame.pointee.colorspace.rawValue))
            _ = sws_setColorspaceDetails(context, coefficients, fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                         0, 1 << 16, 1 << 16)
        }
        let rgb = try buffer(width: width, height: height)
        var planes: [UnsafeMutablePointer<UInt8>?] = [rgb, nil, nil, nil]
        var strides: [Int32] = [Int32(linesize), 0, 0, 0]
        let source = withUnsafeBytes(of: frame.pointee.data) { raw in
            Array(raw.bindMemory(to: UnsafeMutablePointer<UInt8>?.self).prefix(4)).map { UnsafePointer($0) }
        }
        let sourceStrides = withUnsafeBytes(of: frame.pointee.linesize) { Array($0.bindMemory(to: Int32.self).prefix(4)) }
        let rows = sws_scale(context, source, sourceStrides, 0, Int32(height), &planes, &strides)
        guard rows == Int32(height) else { throw DecodeError.internalFailure(detail: "swscale converted \(rows) of \(height) rows") }
        return UnsafePointer(rgb)
    }

    /// A context from the frame's size and format to RGB24 that reads chroma where the frame says it is sited
    /// (H.264, MPEG-4: left, with the first luma column; JPEG: centred), as PyAV's `to_ndarray` does through
    /// `sws_scale_frame`; nil if swscale refuses. Only subsampled axes get a position: swscale takes one on a
    /// full-resolution axis as a shift. Without it, left-sited chroma that swscale filters (10-bit, odd widths) is
    /// read half a chroma sample off: up to 113 levels at colour edges (docs/DECODE-PARITY.md).
    private static func makeContext(_ key: ContextKey) -> OpaquePointer? {
        guard let context = sws_alloc_context() else { return nil }
        let format = AVPixelFormat(key.format)
        var options: [(String, Int64)] = [
            ("srcw", Int64(key.width)), ("srch", Int64(key.height)), ("src_format", Int64(key.format)),
            ("dstw", Int64(key.width)), ("dsth", Int64(key.height)), ("dst_format", Int64(AV_PIX_FMT_RGB24.rawValue)),
            ("sws_flags", Int64(flags)),
        ]
        var x: Int32 = -1, y: Int32 = -1
        if key.chromaLocation != AVCHROMA_LOC_UNSPECIFIED, avcodec_enum_to_chroma_pos(&x, &y, key.chromaLocation) == 0,
           let descriptor = av_pix_fmt_desc_get(format) {
            if descriptor.pointee.log2_chroma_w > 0 { options.append(("src_h_chr_pos", Int64(x))) }
            if descriptor.pointee.log2_chroma_h > 0 { options.append(("src_v_chr_pos", Int64(y))) }
        }
        let raw = UnsafeMutableRawPointer(context)
        guard options.allSatisfy({ av_opt_set_int(raw, $0.0, $0.1, 0) >= 0 }), sws_init_context(context, nil, nil) >= 0 else {
            sws_freeContext(context)
            return nil
        }
        return context
    }

    /// The destination frame's RGB24 plane for this size, reallocated only when the size changes.
    private func buffer(width: Int, height: Int) throws -> UnsafeMutablePointer<UInt8> {
        let frame = destination.frame
        if frame.pointee.width != Int32(width) || frame.pointee.height != Int32(height) || frame.pointee.data.0 == nil {
            av_frame_unref(frame)
            frame.pointee.format = AV_PIX_FMT_RGB24.rawValue
            frame.pointee.width = Int32(width)
            frame.pointee.height = Int32(height)
            try check(av_frame_get_buffer(frame, Self.alignment)) { DecodeError.internalFailure(detail: "cannot allocate an RGB frame: \($0)") }
        }
        return frame.pointee.data.0!
    }

    private static func isRGB(_ format: AVPixelFormat) -> Bool {
        guard let descriptor = av_pix_fmt_desc_get(format) else { return false }
        return descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0
    }

    private static func isJPEGFormat(_ format: AVPixelFormat) -> Bool {
        [AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUVJ411P].contains(format)
    }

    static func name(of format: AVPixelFormat) -> String {
        av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "\(format.rawValue)"
    }
}
