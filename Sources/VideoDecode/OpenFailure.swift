import CFFmpeg
import Foundation

/// Why FFmpeg could not open an upload, as its sender should hear it. Bytes that FFmpeg's probe takes for an
/// accepted container are that container cut short or damaged (an interrupted recording, a partial upload): an
/// unusable video, named as such. Anything else is not a container this service accepts.
enum OpenFailure {
    /// As much of the upload as FFmpeg's own open probes by default.
    static let probedBytes = 1 << 20

    static func error(_ bytes: Data, code: Int32) -> DecodeError {
        guard let format = acceptedFormat(of: bytes) else { return .unsupportedContainer(detail: ffmpegErrorString(code)) }
        if format.name.hasPrefix("mov,"), !hasMovieBox(bytes) { return .mp4WithoutIndex }
        return .damagedContainer(format: format.longName, detail: ffmpegErrorString(code))
    }

    /// The accepted demuxer FFmpeg's probe takes `bytes` for, with more than the score at which FFmpeg's own open
    /// reads further before it decides (a quarter of the maximum).
    static func acceptedFormat(of bytes: Data) -> (name: String, longName: String)? {
        let count = min(bytes.count, probedBytes)
        var buffer = [UInt8](repeating: 0, count: count + Int(AVPROBE_PADDING_SIZE))  // the padding stays zero
        buffer.withUnsafeMutableBytes { _ = bytes.copyBytes(to: $0, from: bytes.startIndex..<bytes.startIndex + count) }
        var score: Int32 = 0
        let format: UnsafePointer<AVInputFormat>? = buffer.withUnsafeMutableBufferPointer { buffer in
            "".withCString { noName in
                var probe = AVProbeData(filename: noName, buf: buffer.baseAddress, buf_size: Int32(count), mime_type: nil)
                return av_probe_input_format3(&probe, 1, &score)
            }
        }
        guard let format, score > AVPROBE_SCORE_MAX / 4 else { return nil }
        let name = String(cString: format.pointee.name)
        let accepted = Set(Demuxer.containers.split(separator: ","))
        guard name.split(separator: ",").contains(where: accepted.contains) else { return nil }
        return (name, format.pointee.long_name.map { String(cString: $0) } ?? name)
    }

    /// Whether MP4's top-level boxes, walked by their sizes from the start, include its index (`moov`), whole or
    /// cut short. Recorders write it when they stop, after the frames, unless the file was rewritten to put it first.
    static func hasMovieBox(_ bytes: Data) -> Bool {
        bytes.withUnsafeBytes { raw in
            func bigEndian(_ at: Int, _ count: Int) -> UInt64 { (at..<at + count).reduce(0) { $0 << 8 | UInt64(raw[$1]) } }
            var offset = 0
            while offset + 8 <= raw.count {
                if raw[offset + 4..<offset + 8].elementsEqual("moov".utf8) { return true }
                var size = bigEndian(offset, 4), header: UInt64 = 8
                if size == 1 {  // a 64-bit size follows the type
                    guard offset + 16 <= raw.count else { return false }
                    size = bigEndian(offset + 8, 8)
                    header = 16
                }
                // A size of 0 runs to the end of the file; one that is too small or past the end ends the walk.
                guard size >= header, size <= UInt64(raw.count - offset) else { return false }
                offset += Int(size)
            }
            return false
        }
    }
}
