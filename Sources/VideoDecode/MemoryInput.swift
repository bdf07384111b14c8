import CFFmpeg
import Foundation

/// A read-only AVIOContext over bytes in memory: libavformat reads and seeks inside the buffer and nowhere
/// else. Reads fail with AVERROR_EXIT once the deadline has passed, which stops any demuxer mid-parse.
final class MemoryInput {
    let bytes: Data
    private var position = 0
    let deadline: Deadline
    private(set) var context: UnsafeMutablePointer<AVIOContext>?

    static let bufferSize: Int32 = 64 * 1024

    init(_ bytes: Data, deadline: Deadline) throws {
        self.bytes = bytes
        self.deadline = deadline
        guard let buffer = av_malloc(Int(Self.bufferSize)) else { throw DecodeError.needsTooMuchMemory }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        context = avio_alloc_context(buffer.assumingMemoryBound(to: UInt8.self), Self.bufferSize, 0, opaque,
                                     { opaque, buffer, size in MemoryInput.from(opaque).read(buffer, Int(size)) },
                                     nil,
                                     { opaque, offset, whence in MemoryInput.from(opaque).seek(offset, whence) })
        guard context != nil else {
            av_free(buffer)
            throw DecodeError.needsTooMuchMemory
        }
    }

    deinit {
        if let context {
            // The context's buffer may have been replaced by libavformat; free whichever it holds now.
            av_freep(&context.pointee.buffer)
        }
        avio_context_free(&context)
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> MemoryInput {
        Unmanaged<MemoryInput>.fromOpaque(opaque!).takeUnretainedValue()
    }

    private func read(_ buffer: UnsafeMutablePointer<UInt8>?, _ size: Int) -> Int32 {
        if deadline.hasPassed { return averrorExit }
        let count = min(size, bytes.count - position)
        guard count > 0, let buffer else { return averrorEOF }
        bytes.withUnsafeBytes { raw in
            buffer.update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + position, count: count)
        }
        position += count
        return Int32(count)
    }

    private func seek(_ offset: Int64, _ whence: Int32) -> Int64 {
        let mode = whence & ~Int32(AVSEEK_FORCE)
        if mode == AVSEEK_SIZE { return Int64(bytes.count) }
        let target: Int64
        switch mode {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = Int64(position) + offset
        case SEEK_END: target = Int64(bytes.count) + offset
        default: return Int64(cffmpeg_averror(EINVAL))
        }
        guard target >= 0, target <= Int64(bytes.count) else { return Int64(cffmpeg_averror(EINVAL)) }
        position = Int(target)
        return target
    }
}

/// A point in wall-clock time after which decoding gives up; shared by the reader and the decoder of one video,
/// and moved on for each chunk of a long walk.
final class Deadline {
    let seconds: Double
    private var end: UInt64

    init(seconds: Double) {
        self.seconds = seconds
        end = 0
        restart()
    }

    /// `seconds` from now.
    func restart() { end = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, seconds) * 1e9) }

    var hasPassed: Bool { DispatchTime.now().uptimeNanoseconds > end }
}
