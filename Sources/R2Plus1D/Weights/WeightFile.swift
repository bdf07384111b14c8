import Foundation

/// Opens any weight file this program reads, choosing the reader from the file's first bytes.
public enum WeightFile {
    /// - Throws: `WeightError` (any case): unreadable, unknown format, truncated, corrupt, unsupported dtype.
    public static func read(path: String) throws -> StateDict {
        try decode(mapFile(path))
    }

    /// - Throws: as `read(path:)`.
    public static func decode(_ bytes: Data) throws -> StateDict {
        if bytes.isEmpty { throw WeightError.truncated(detail: "the file is empty") }
        if TorchCheckpoint.isZip(bytes) || TorchCheckpoint.isLegacy(bytes) { return try TorchCheckpoint.decode(bytes) }
        // safetensors: an 8-byte length, then a JSON object.
        if bytes.count >= 9, bytes[bytes.startIndex + 8] == UInt8(ascii: "{") { return try Safetensors.decode(bytes).tensors }
        if MindSporeCheckpoint.isCheckpoint(bytes) { return try MindSporeCheckpoint.decode(bytes) }
        throw WeightError.unknownFormat(detail: "the first bytes match no known format")
    }
}
