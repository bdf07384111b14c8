import CFFmpeg

// Each FFmpeg object has one owner that frees it in deinit, so every path out of a function, a throw from an
// initializer included, releases it.

/// An AVFormatContext, closed (and its streams freed) in deinit; it keeps its custom I/O alive until then.
final class FormatContext {
    var pointer: UnsafeMutablePointer<AVFormatContext>?
    private let input: MemoryInput

    init(_ pointer: UnsafeMutablePointer<AVFormatContext>, input: MemoryInput) {
        self.pointer = pointer
        self.input = input
    }

    deinit { avformat_close_input(&pointer) }
}

/// An AVCodecContext, freed in deinit.
final class CodecContext {
    var pointer: UnsafeMutablePointer<AVCodecContext>?

    init(_ pointer: UnsafeMutablePointer<AVCodecContext>) { self.pointer = pointer }

    deinit { avcodec_free_context(&pointer) }
}

/// An AVPacket, freed (and unreferenced) in deinit.
final class Packet {
    var pointer: UnsafeMutablePointer<AVPacket>?

    init() throws {
        guard let pointer = av_packet_alloc() else { throw DecodeError.needsTooMuchMemory }
        self.pointer = pointer
    }

    deinit { av_packet_free(&pointer) }
}

/// An AVFrame, freed (and unreferenced) in deinit.
final class Frame {
    var pointer: UnsafeMutablePointer<AVFrame>?

    init() throws {
        guard let pointer = av_frame_alloc() else { throw DecodeError.needsTooMuchMemory }
        self.pointer = pointer
    }

    var frame: UnsafeMutablePointer<AVFrame> { pointer! }

    deinit { av_frame_free(&pointer) }
}
