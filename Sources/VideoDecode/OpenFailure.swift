import CFFmpeg
import Foundation

/// Why FFmpeg could not open an upload, as its sender should hear it. Bytes that FFmpeg's probe takes for an
/// accepted container are that container cut short or damaged (an interrupted recording, a partial upload): an
/// unusable video, named as such. Anything else is not a container this service accepts.
enum OpenFailure {
    static func error(_ bytes: Data, code: Int32, deadline: Deadline) -> DecodeError {
        if code == averrorNoMemory { return .needsTooMuchMemory }
        guard let format = acceptedFormat(of: bytes, deadline: deadline) else { return .unsupportedContainer(detail: ffmpegErrorString(code)) }
        if format.name.hasPrefix("mov,") {
            let boxes = TopLevelBoxes(bytes)
            if let brand = boxes.brand, stillImageBrands.contains(brand) {
                return .unsupportedContainer(detail: "a still image (brand '\(brand)'), not a video")
            }
            if !boxes.holdMovie { return .mp4WithoutIndex }
        }
        return .damagedContainer(format: format.longName, detail: ffmpegErrorString(code))
    }

    /// The demuxer FFmpeg's open chose for `bytes` (the same probe, over a fresh reader), when it is an accepted one.
    static func acceptedFormat(of bytes: Data, deadline: Deadline) -> (name: String, longName: String)? {
        guard let input = try? MemoryInput(bytes, deadline: deadline) else { return nil }
        var format: UnsafePointer<AVInputFormat>?
        guard av_probe_input_buffer2(input.context, &format, "", nil, 0, 0) >= 0, let format else { return nil }
        let name = String(cString: format.pointee.name)
        let accepted = Set(Demuxer.containers.split(separator: ","))
        guard name.split(separator: ",").contains(where: accepted.contains) else { return nil }
        return (name, format.pointee.long_name.map { String(cString: $0) } ?? name)
    }

    /// The major brands of ISO files that hold photos, not videos (HEIF and AVIF images and sequences, Canon's raw
    /// photos): FFmpeg's MP4 demuxer takes them on and finds no movie in them.
    static let stillImageBrands: Set = ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1", "avif", "avis", "crx "]

    /// An MP4 file's top-level boxes, walked by their sizes from the start until one runs past the end.
    struct TopLevelBoxes {
        /// The major brand of a leading `ftyp` box.
        private(set) var brand: String?
        /// Whether the index (`moov`) begins among them, whole or cut short. Recorders write it when they stop,
        /// after the frames, unless the file was rewritten to put it first.
        private(set) var holdMovie = false

        init(_ bytes: Data) {
            bytes.withUnsafeBytes { raw in
                func bigEndian(_ at: Int, _ count: Int) -> UInt64 { (at..<at + count).reduce(0) { $0 << 8 | UInt64(raw[$1]) } }
                func fourCC(_ at: Int) -> String { String(decoding: raw[at..<at + 4], as: UTF8.self) }
                var offset = 0
                while offset + 8 <= raw.count {
                    let type = fourCC(offset + 4)
                    if type == "moov" { holdMovie = true; return }
                    if offset == 0, type == "ftyp", raw.count >= 12 { brand = fourCC(8) }
                    var size = bigEndian(offset, 4), header: UInt64 = 8
                    if size == 1 {  // a 64-bit size follows the type
                        guard offset + 16 <= raw.count else { return }
                        size = bigEndian(offset + 8, 8)
                        header = 16
                    }
                    // A size of 0 runs to the end of the file; one that is too small or past the end ends the walk.
                    guard size >= header, size <= UInt64(raw.count - offset) else { return }
                    offset += Int(size)
                }
            }
        }
    }
}
