import Foundation

/// Reads MindSpore checkpoints (`.ckpt`, as `mindspore.save_checkpoint` and `ModelCheckpoint` write them).
///
/// Byte layout: protobuf, with no header and no index, written as a series of one-entry `Checkpoint` messages
/// (which protobuf reads as one message with a repeated field):
/// ```
/// Checkpoint  { repeated Value value = 1; }                      key 0x0a, varint length, Value
/// Value       { string tag = 1; TensorProto tensor = 2;          key 0x0a, varint length, UTF-8 name
///               MapTensorProto maptensor = 3; }                  key 0x12, varint length, TensorProto
/// TensorProto { repeated int64 dims = 1;                         key 0x08 + varint each (or 0x0a, packed)
///               string tensor_type = 2;                          key 0x12: "Float32", "Float16", "BFloat16",
///                                                                "Float64", "Int8".."Int64", "UInt8".."UInt64",
///                                                                "Bool", "str"
///               bytes tensor_content = 3; }                      key 0x1a: little-endian, row-major
/// optional    "crc_num" + 10-byte big-endian zlib CRC32 of every byte before it (17 bytes, `crc_check=True`)
/// ```
/// A 0-d tensor has no dims (MindSpore 2.x) or dims `[0]` (1.x). A tensor over 512 MiB is split into consecutive
/// values with the same tag, each carrying the whole tensor's dims. A `str` holds UTF-32LE text. Encrypted files
/// (`enc_key=`) start with `d8 5e 3a 7f` (AES-GCM) or `d9 5e 3a 7f` (AES-CBC) instead.
public enum MindSporeCheckpoint {
    /// One tensor of the file, its chunks joined; `content` is a slice of the file's bytes when it was not split.
    public struct Entry: Sendable {
        public var tag: String
        /// MindSpore's dtype name, as stored (`Float32`, `Int64`, `str`, ...).
        public var dtype: String
        /// `[]` for a 0-d tensor, whichever way the file spelt it.
        public var shape: [Int]
        public var content: Data

        /// The values as Double, for every numeric dtype and Bool.
        /// - Throws: `WeightError.unsupportedDType` for `str` and unknown dtypes.
        public func doubles() throws -> [Double] {
            guard let width = MindSporeCheckpoint.elementSize(dtype), dtype != "str" else {
                throw WeightError.unsupportedDType(name: tag, dtype: dtype)
            }
            return content.withUnsafeBytes { raw in
                (0..<content.count / width).map { i in
                    let p = raw.baseAddress! + i * width
                    switch dtype {
                    case "Float16": return Double(ElementType.halfToFloat(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))))
                    case "BFloat16": return Double(Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16))
                    case "Float32": return Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))))
                    case "Float64": return Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
                    case "Int8": return Double(p.load(as: Int8.self))
                    case "Int16": return Double(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                    case "Int32": return Double(Int32(littleEndian: p.loadUnaligned(as: Int32.self)))
                    case "Int64": return Double(Int64(littleEndian: p.loadUnaligned(as: Int64.self)))
                    case "UInt8", "Bool": return Double(p.load(as: UInt8.self))
                    case "UInt16": return Double(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
                    case "UInt32": return Double(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
                    default: return Double(UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
                    }
                }
            }
        }

        /// The text of a `str` entry, its trailing NULs (numpy's padding) dropped.
        /// - Throws: `WeightError.unsupportedDType` for any other dtype.
        public func string() throws -> String {
            guard dtype == "str" else { throw WeightError.unsupportedDType(name: tag, dtype: dtype) }
            let scalars = content.withUnsafeBytes { raw in
                (0..<content.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
            }
            var text = String.UnicodeScalarView()
            for code in scalars where code != 0 { text.append(Unicode.Scalar(code) ?? "\u{FFFD}") }
            return String(text)
        }

        /// The tensor as Float32.
        /// - Throws: `WeightError.unsupportedDType` for anything but Float32, Float16, BFloat16 and Float64.
        func floats() throws -> Tensor {
            let type: ElementType
            switch dtype {
            case "Float32": type = .float32
            case "Float16": type = .float16
            case "BFloat16": type = .bfloat16
            case "Float64": type = .float64
            default: throw WeightError.unsupportedDType(name: tag, dtype: dtype)
            }
            return Tensor(shape: shape, data: type.floats(content, byteOffset: 0, shape: shape,
                                                          strides: ElementType.contiguousStrides(shape)))
        }
    }

    static let encryptedMagics: [[UInt8]] = [[0xD8, 0x5E, 0x3A, 0x7F], [0xD9, 0x5E, 0x3A, 0x7F]]
    static let trailerMark = Array("crc_num".utf8)
    static let trailerLength = 17
    /// More dims than any tensor has: a hostile file cannot make the reader collect millions of them.
    static let maxRank = 16

    /// Whether `bytes` look like a checkpoint: a first `Value` key, or the encrypted variant's magic.
    static func isCheckpoint(_ bytes: Data) -> Bool {
        guard let first = bytes.first else { return false }
        return first == 0x0A || isEncrypted(bytes)
    }

    static func isEncrypted(_ bytes: Data) -> Bool {
        encryptedMagics.contains { bytes.starts(with: $0) }
    }

    /// The tensors of a file, in file order, with split tensors joined.
    /// - Parameter keep: which tags to read; the others are checked for structure only, their contents neither
    ///   copied nor converted.
    /// - Throws: `WeightError.encrypted`, `.truncated`, `.corrupt` (bad varint, wire type, CRC,
    ///   or dims that disagree with the byte count).
    public static func entries(_ bytes: Data, keep: (String) -> Bool = { _ in true }) throws -> [Entry] {
        if isEncrypted(bytes) {
            throw WeightError.encrypted(
                detail: "a MindSpore checkpoint saved with enc_key; decrypt it with MindSpore (load_checkpoint with "
                    + "dec_key, then save_checkpoint without enc_key) and pass that file")
        }
        var end = bytes.count
        if end >= trailerLength, bytes[bytes.startIndex + end - trailerLength..<bytes.startIndex + end - 10]
            .elementsEqual(trailerMark) {
            end -= trailerLength
            var stored: UInt64 = 0
            for byte in bytes[(bytes.startIndex + end + 7)...] { stored = stored << 8 | UInt64(byte) }
            let computed = crc32(bytes[bytes.startIndex..<bytes.startIndex + end])
            guard stored == UInt64(computed) else {
                throw WeightError.corrupt(detail: "the checkpoint's CRC32 is \(String(computed, radix: 16)) but its trailer "
                    + "says \(String(stored, radix: 16))")
            }
        }
        var reader = WireReader(bytes: bytes, position: 0, end: end)
        var result: [Entry] = []
        var previousTag: String?
        var previousKept = false
        while reader.position < reader.end {
            let valueStart = reader.position
            let (field, wire) = try reader.key()
            guard field == 1, wire == 2 else {
                throw WeightError.corrupt(detail: "byte \(valueStart) holds field \(field) wire type \(wire) where a "
                    + "checkpoint value (field 1, length-delimited) belongs")
            }
            var value = try reader.nested("checkpoint value at byte \(valueStart)")
            let raw = try parseValue(&value, at: valueStart)
            reader.position = value.end
            guard let tensor = raw.tensor else {
                // A MapTensor (a hash table's parameter): no network we load has one.
                if keep(raw.tag) {
                    throw WeightError.unsupportedDType(name: raw.tag, dtype: "MapTensor")
                }
                previousTag = nil
                continue
            }
            let isContinuation = raw.tag == previousTag
            previousTag = raw.tag
            if isContinuation {
                guard previousKept else { continue }
                let last = result.count - 1
                guard result[last].dtype == tensor.dtype, result[last].shape == tensor.shape else {
                    throw WeightError.corrupt(detail: "the chunks of tensor '\(raw.tag)' disagree on dtype or shape")
                }
                result[last].content.append(tensor.content)
            } else {
                if previousKept { try checkSize(result[result.count - 1]) }
                previousKept = keep(raw.tag)
                guard previousKept else { continue }
                result.append(Entry(tag: raw.tag, dtype: tensor.dtype, shape: tensor.shape, content: tensor.content))
            }
        }
        if previousKept { try checkSize(result[result.count - 1]) }
        return result
    }

    /// A checkpoint as a torchvision state dict: names mapped by `torchvisionName(_:)`, training state skipped.
    /// - Throws: as `entries(_:keep:)`, `.unsupportedDType` for a network tensor that is not floating point, and
    ///   `.corrupt` when two names map to the same torchvision name.
    public static func decode(_ bytes: Data) throws -> StateDict {
        var dict = StateDict()
        for entry in try entries(bytes, keep: { !isTrainingState($0) && !$0.hasSuffix(".num_batches_tracked") }) {
            let name = torchvisionName(entry.tag) ?? entry.tag
            guard dict[name] == nil else {
                throw WeightError.corrupt(detail: "tensor '\(entry.tag)' and another both name '\(name)'")
            }
            dict[name] = try entry.floats()
        }
        return dict
    }

    /// Whether `tag` lies outside the network's names: optimizer state (`moments.*`, `accum.*`, `adam_m.*`, ...),
    /// `global_step`, `learning_rate`, `momentum`, `epoch_num`, `step_num` and the like.
    static func isTrainingState(_ tag: String) -> Bool {
        let root = tag.prefix { $0 != "." }
        return !(root == "conv1" || root == "classifier" || root == "stem" || root == "fc"
            || ["layer1", "layer2", "layer3", "layer4"].contains(root))
    }

    /// The torchvision name of one of the seed project's (`r2plus1d_mindspore`'s `R2Plus1d18`), or nil for a name
    /// it does not hold.
    ///
    /// `conv1` is the stem, `classifier` the fc layer. Each block's `conv12` holds `conv{1,2}_0` (the spatial
    /// (1,3,3) conv and its midplanes BatchNorm) and `conv{1,2}_1` (the temporal (3,1,1) conv and the block's
    /// BatchNorm), which torchvision spells `conv{1,2}.0.0`, `.0.1`, `.0.3` and `conv{1,2}.1`; `down_sample.features`
    /// is `downsample`. MindSpore's BatchNorm3d keeps its parameters in a `bn2d` cell, as gamma, beta, moving_mean
    /// and moving_variance.
    public static func torchvisionName(_ seedName: String) -> String? {
        var parts = seedName.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let last = parts.popLast() else { return nil }
        let batchNorm = ["gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"]
        let parameter: String
        if let renamed = batchNorm[last] {
            guard parts.popLast() == "bn2d" else { return nil }
            parameter = renamed
        } else if last == "weight" || last == "bias" {
            parameter = last
        } else {
            return nil
        }
        let isBatchNorm = batchNorm[last] != nil
        let path: [String]
        switch parts.count {
        case 1 where parts[0] == "classifier" && !isBatchNorm:
            path = ["fc"]
        case 2 where parts[0] == "conv1" && ["0", "1", "3", "4"].contains(parts[1]):
            guard isBatchNorm == (parts[1] == "1" || parts[1] == "4") else { return nil }
            path = ["stem", parts[1]]
        case 5 where isLayer(parts[0]) && isBlockIndex(parts[1]) && parts[2] == "down_sample" && parts[3] == "features"
            && (parts[4] == "0" || parts[4] == "1"):
            guard isBatchNorm == (parts[4] == "1") else { return nil }
            path = [parts[0], parts[1], "downsample", parts[4]]
        case 6 where isLayer(parts[0]) && isBlockIndex(parts[1]) && parts[2] == "conv12" && parts[4] == "features":
            let unit = parts[3]
            guard unit.count == 7, unit.hasPrefix("conv"), ["1_0", "1_1", "2_0", "2_1"].contains(unit.dropFirst(4)),
                  parts[5] == "0" || parts[5] == "1", isBatchNorm == (parts[5] == "1") else { return nil }
            let conv = "conv" + String(unit.dropFirst(4).prefix(1))
            let temporal = unit.hasSuffix("_1")
            switch (temporal, parts[5]) {
            case (false, "0"): path = [parts[0], parts[1], conv, "0", "0"]
            case (false, _): path = [parts[0], parts[1], conv, "0", "1"]
            case (true, "0"): path = [parts[0], parts[1], conv, "0", "3"]
            default: path = [parts[0], parts[1], conv, "1"]
            }
        default:
            return nil
        }
        if !isBatchNorm && parameter == "bias" && path[0] != "fc" { return nil }
        return (path + [parameter]).joined(separator: ".")
    }

    private static func isLayer(_ s: String) -> Bool { ["layer1", "layer2", "layer3", "layer4"].contains(s) }
    private static func isBlockIndex(_ s: String) -> Bool { !s.isEmpty && s.allSatisfy { $0.isASCII && $0.isNumber } }

    /// Bytes per element, or nil for a dtype this reader does not know (`str` counts 4, one UTF-32 unit).
    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "Int8", "UInt8", "Bool": 1
        case "Int16", "UInt16", "Float16", "BFloat16": 2
        case "Int32", "UInt32", "Float32", "str": 4
        case "Int64", "UInt64", "Float64": 8
        default: nil
        }
    }

    /// The joined content must hold exactly the shape's elements (a `str` any whole number of UTF-32 units).
    private static func checkSize(_ entry: Entry) throws {
        guard let size = elementSize(entry.dtype) else { return }
        if entry.dtype == "str" {
            guard entry.content.count % 4 == 0 else {
                throw WeightError.corrupt(detail: "string '\(entry.tag)' has \(entry.content.count) bytes, not whole UTF-32 units")
            }
            return
        }
        let expected = Safetensors.checkedCount(entry.shape).flatMap { $0.multipliedReportingOverflow(by: size).overflow ? nil : $0 * size }
        guard expected == entry.content.count else {
            throw WeightError.corrupt(detail: "tensor '\(entry.tag)' of shape \(entry.shape) \(entry.dtype) holds "
                + "\(entry.content.count) bytes")
        }
    }

    private struct RawTensor {
        var shape: [Int]
        var dtype: String
        var content: Data
    }

    private static func parseValue(_ reader: inout WireReader, at offset: Int) throws -> (tag: String, tensor: RawTensor?) {
        var tag: String?
        var tensor: RawTensor?
        var hasMapTensor = false
        while reader.position < reader.end {
            let (field, wire) = try reader.key()
            switch (field, wire) {
            case (1, 2):
                let bytes = try reader.lengthDelimited("tag of the value at byte \(offset)")
                guard let text = String(data: bytes, encoding: .utf8) else {
                    throw WeightError.corrupt(detail: "the tag of the value at byte \(offset) is not UTF-8")
                }
                tag = text
            case (2, 2):
                var nested = try reader.nested("tensor of the value at byte \(offset)")
                tensor = try parseTensor(&nested, tag: tag ?? "at byte \(offset)")
                reader.position = nested.end
            case (3, 2):
                _ = try reader.lengthDelimited("map tensor of the value at byte \(offset)")
                hasMapTensor = true
            default:
                try reader.skip(wire: wire, field: field)
            }
        }
        guard let tag else { throw WeightError.corrupt(detail: "the value at byte \(offset) has no tag") }
        guard tensor != nil || hasMapTensor else {
            throw WeightError.corrupt(detail: "entry '\(tag)' has no tensor")
        }
        return (tag, tensor)
    }

    private static func parseTensor(_ reader: inout WireReader, tag: String) throws -> RawTensor {
        var dims: [Int] = []
        var dtype: String?
        var content: Data?
        func addDim(_ value: UInt64) throws {
            guard dims.count < maxRank else { throw WeightError.corrupt(detail: "tensor '\(tag)' has over \(maxRank) dims") }
            guard value <= UInt64(Int32.max) else {
                throw WeightError.corrupt(detail: "tensor '\(tag)' has dimension \(Int64(bitPattern: value))")
            }
            dims.append(Int(value))
        }
        while reader.position < reader.end {
            let (field, wire) = try reader.key()
            switch (field, wire) {
            case (1, 0):
                try addDim(reader.varint("a dim of tensor '\(tag)'"))
            case (1, 2):
                var packed = try reader.nested("the dims of tensor '\(tag)'")
                while packed.position < packed.end { try addDim(packed.varint("a dim of tensor '\(tag)'")) }
                reader.position = packed.end
            case (2, 2):
                dtype = String(decoding: try reader.lengthDelimited("dtype of tensor '\(tag)'"), as: UTF8.self)
            case (3, 2):
                content = try reader.lengthDelimited("contents of tensor '\(tag)'")
            default:
                try reader.skip(wire: wire, field: field)
            }
        }
        guard let dtype else { throw WeightError.corrupt(detail: "tensor '\(tag)' has no tensor_type") }
        // MindSpore 1.x writes a 0-d tensor's dims as [0]; its own reader takes [0] to mean 0-d.
        if dims == [0] { dims = [] }
        return RawTensor(shape: dims, dtype: dtype, content: content ?? Data())
    }
}

/// Protobuf wire-format reads inside `[position, end)` of `bytes`; lengths are checked against `end` before any
/// slice is taken.
private struct WireReader {
    let bytes: Data
    var position: Int
    var end: Int

    mutating func varint(_ what: @autoclosure () -> String) throws -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<10 {
            guard position < end else { throw WeightError.truncated(detail: "\(what()) ends mid-varint") }
            let byte = bytes[bytes.startIndex + position]
            position += 1
            // The tenth byte may only hold the 64th bit.
            if i == 9 && byte > 1 { break }
            value |= UInt64(byte & 0x7F) << (7 * UInt64(i))
            if byte & 0x80 == 0 { return value }
        }
        throw WeightError.corrupt(detail: "\(what()) is a varint longer than 64 bits at byte \(position - 1)")
    }

    mutating func key() throws -> (field: UInt64, wire: UInt64) {
        let start = position
        let key = try varint("the field key at byte \(start)")
        guard key >> 3 != 0 else { throw WeightError.corrupt(detail: "field number 0 at byte \(start)") }
        return (key >> 3, key & 7)
    }

    mutating func lengthDelimited(_ what: @autoclosure () -> String) throws -> Data {
        let (start, length) = try span(what())
        position = start + length
        return bytes[bytes.startIndex + start..<bytes.startIndex + start + length]
    }

    /// A reader over the next length-delimited field; the caller moves past it with `position = nested.end`.
    mutating func nested(_ what: @autoclosure () -> String) throws -> WireReader {
        let (start, length) = try span(what())
        return WireReader(bytes: bytes, position: start, end: start + length)
    }

    private mutating func span(_ what: @autoclosure () -> String) throws -> (start: Int, length: Int) {
        let declared = try varint(what())
        guard declared <= UInt64(end - position) else {
            throw WeightError.truncated(detail: "\(what()) declares \(declared) bytes at byte \(position) but "
                + "\(end - position) remain")
        }
        return (position, Int(declared))
    }

    mutating func skip(wire: UInt64, field: UInt64) throws {
        switch wire {
        case 0: _ = try varint("field \(field)")
        case 1, 5:
            let width = wire == 1 ? 8 : 4
            guard end - position >= width else { throw WeightError.truncated(detail: "field \(field) at byte \(position)") }
            position += width
        case 2: _ = try lengthDelimited("field \(field)")
        default:
            throw WeightError.corrupt(detail: "field \(field) has wire type \(wire), which checkpoints do not use, at byte \(position)")
        }
    }
}

/// zlib's CRC-32 (polynomial 0xEDB88320), as MindSpore's trailer holds it.
func crc32(_ bytes: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    bytes.withUnsafeBytes { raw in
        for byte in raw { crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }
    return ~crc
}

private let crc32Table: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}
