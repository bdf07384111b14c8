import Foundation

/// Reads and writes safetensors files.
///
/// Byte layout:
/// ```
/// u64 little-endian  N, the header's length
/// N bytes            UTF-8 JSON: {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [BEGIN, END]}, ...,
///                                 "__metadata__": {"KEY": "VALUE"}} (optional), padded with spaces
/// rest               the data; each tensor's bytes at [BEGIN, END) from here, little-endian, row-major
/// ```
public enum Safetensors {
    /// Largest header accepted: safetensors' own reader refuses more than 100 MB.
    static let maxHeaderBytes = 100_000_000

    /// Tensors and the `__metadata__` strings of a file.
    public struct Contents: Sendable {
        public var tensors: StateDict
        public var metadata: [String: String]
    }

    /// Reads a file, memory-mapped; F32, F16 and BF16 become Float32.
    /// - Throws: `WeightError.unreadable`, or as `decode(_:)`.
    public static func read(path: String) throws -> Contents {
        try decode(mapFile(path))
    }

    /// - Throws: `WeightError.truncated`, `.corrupt`, `.unknownFormat`, `.unsupportedDType`.
    public static func decode(_ bytes: Data) throws -> Contents {
        var reader = ByteReader(bytes)
        let headerLength = try reader.uint(8, "the 8-byte header length")
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw WeightError.unknownFormat(detail: "a safetensors header of \(headerLength) bytes is implausible")
        }
        let header = try reader.read(Int(headerLength), "header of \(headerLength) bytes")
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw WeightError.corrupt(detail: "the safetensors header is not a JSON object")
        }
        let dataStart = reader.position
        let dataLength = bytes.count - dataStart
        var tensors = StateDict()
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                guard let strings = value as? [String: String] else {
                    throw WeightError.corrupt(detail: "__metadata__ must map strings to strings")
                }
                metadata = strings
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw WeightError.corrupt(detail: "tensor '\(name)' has no dtype, shape and data_offsets") }
            guard let dtype = elementType(dtypeName) else {
                throw WeightError.unsupportedDType(name: name, dtype: dtypeName)
            }
            guard shape.allSatisfy({ $0 >= 0 }), let count = checkedCount(shape) else {
                throw WeightError.corrupt(detail: "tensor '\(name)' has shape \(shape)")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end - begin == count * dtype.size else {
                throw WeightError.corrupt(detail: "tensor '\(name)' of shape \(shape) \(dtypeName) has data_offsets \(offsets)")
            }
            guard end <= dataLength else {
                throw WeightError.truncated(detail: "tensor '\(name)' ends at byte \(end) of a \(dataLength)-byte data section")
            }
            tensors[name] = Tensor(shape: shape, data: dtype.floats(bytes, byteOffset: dataStart + begin, shape: shape,
                                                                  strides: ElementType.contiguousStrides(shape)))
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// Encodes tensors as F32, in the order given, with optional metadata.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * 4]]
            offset += tensor.count * 4
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, tensor) in tensors {
            tensor.data.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// - Throws: `WeightError.unreadable` when the file cannot be written.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], path: String) throws {
        do {
            try encode(tensors, metadata: metadata).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw WeightError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    static func elementType(_ name: String) -> ElementType? {
        switch name {
        case "F32": .float32
        case "F16": .float16
        case "BF16": .bfloat16
        default: nil
        }
    }

    /// The element count of `shape`, or nil if it overflows.
    static func checkedCount(_ shape: [Int]) -> Int? {
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            count = product
        }
        return count
    }
}

/// The file's bytes, memory-mapped.
func mapFile(_ path: String) throws -> Data {
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
    } catch {
        throw WeightError.unreadable(path: path, reason: (error as NSError).localizedFailureReason ?? "\(error)")
    }
}
