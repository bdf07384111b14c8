import Foundation

/// The entries of a zip archive whose members are stored uncompressed, as `torch.save` writes them.
///
/// Byte layout read here (all little-endian):
/// ```
/// per member:  local header  "PK\3\4" ... u16 name length @26, u16 extra length @28, name, extra, data
/// central dir: per member    "PK\1\2" ... u16 method @10, u32 compressed size @20, u32 size @24,
///                             u16 name length @28, u16 extra length @30, u16 comment length @32,
///                             u32 local header offset @42, name, extra (zip64 field 0x0001), comment
/// end:         [zip64 end record "PK\6\6", zip64 locator "PK\6\7"] end record "PK\5\6": u16 entries @10,
///              u32 central dir size @12, u32 central dir offset @16, u16 comment length @20
/// ```
struct ZipArchive {
    struct Entry {
        var name: String
        var dataOffset: Int
        var size: Int
    }

    let bytes: Data
    private(set) var entries: [String: Entry] = [:]

    /// - Throws: `WeightError.corrupt` or `.truncated` when the directory is inconsistent with the file.
    init(_ bytes: Data) throws {
        self.bytes = bytes
        let endOffset = try Self.findEndRecord(bytes)
        var end = ByteReader(bytes, at: endOffset + 10)
        var entryCount = Int(try end.uint(2, "end record"))
        _ = try end.uint(4, "end record")
        var directoryOffset = Int(try end.uint(4, "end record"))
        if directoryOffset == 0xFFFF_FFFF || entryCount == 0xFFFF {
            // zip64: the locator sits just before the end record and points at the zip64 end record.
            var locator = ByteReader(bytes, at: endOffset - 20)
            guard endOffset >= 20, try locator.uint(4, "zip64 locator") == 0x0706_4B50 else {
                throw WeightError.corrupt(detail: "zip64 archive without its locator")
            }
            _ = try locator.uint(4, "zip64 locator")
            let record = try locator.uint(8, "zip64 locator")
            guard record < UInt64(bytes.count) else { throw WeightError.truncated(detail: "zip64 end record past the end") }
            var zip64 = ByteReader(bytes, at: Int(record))
            guard try zip64.uint(4, "zip64 end record") == 0x0606_4B50 else {
                throw WeightError.corrupt(detail: "bad zip64 end record")
            }
            try zip64.skip(28, "zip64 end record")
            entryCount = Int(clamping: try zip64.uint(8, "zip64 end record"))
            _ = try zip64.uint(8, "zip64 end record")
            directoryOffset = Int(clamping: try zip64.uint(8, "zip64 end record"))
        }
        guard directoryOffset < bytes.count, entryCount <= bytes.count / 46 else {
            throw WeightError.truncated(detail: "the zip directory claims \(entryCount) entries at byte \(directoryOffset)")
        }
        var reader = ByteReader(bytes, at: directoryOffset)
        for _ in 0..<entryCount {
            guard try reader.uint(4, "central directory") == 0x0201_4B50 else {
                throw WeightError.corrupt(detail: "bad zip central directory entry")
            }
            try reader.skip(6, "central directory")
            let method = try reader.uint(2, "central directory")
            try reader.skip(8, "central directory")
            var compressedSize = try reader.uint(4, "central directory")
            var size = try reader.uint(4, "central directory")
            let nameLength = Int(try reader.uint(2, "central directory"))
            let extraLength = Int(try reader.uint(2, "central directory"))
            let commentLength = Int(try reader.uint(2, "central directory"))
            try reader.skip(8, "central directory")
            var localOffset = try reader.uint(4, "central directory")
            let name = String(decoding: try reader.read(nameLength, "zip entry name"), as: UTF8.self)
            var extra = ByteReader(try reader.read(extraLength, "zip extra field"))
            try reader.skip(commentLength, "zip comment")
            while extra.remaining >= 4 {
                let id = try extra.uint(2, "zip extra field"), length = Int(try extra.uint(2, "zip extra field"))
                var field = ByteReader(try extra.read(length, "zip extra field"))
                guard id == 0x0001 else { continue }
                if size == 0xFFFF_FFFF { size = try field.uint(8, "zip64 size") }
                if compressedSize == 0xFFFF_FFFF { compressedSize = try field.uint(8, "zip64 size") }
                if localOffset == 0xFFFF_FFFF { localOffset = try field.uint(8, "zip64 offset") }
            }
            guard method == 0, compressedSize == size else {
                throw WeightError.corrupt(detail: "zip member '\(name)' is compressed (method \(method)); torch.save stores members")
            }
            guard localOffset < UInt64(bytes.count) else {
                throw WeightError.truncated(detail: "zip member '\(name)' starts past the end")
            }
            var local = ByteReader(bytes, at: Int(localOffset))
            guard try local.uint(4, "local header") == 0x0403_4B50 else {
                throw WeightError.corrupt(detail: "bad local header for '\(name)'")
            }
            try local.skip(22, "local header")
            let localName = Int(try local.uint(2, "local header")), localExtra = Int(try local.uint(2, "local header"))
            try local.skip(localName + localExtra, "local header")
            guard size <= UInt64(local.remaining) else {
                throw WeightError.truncated(detail: "zip member '\(name)' needs \(size) bytes, \(local.remaining) left")
            }
            entries[name] = Entry(name: name, dataOffset: local.position, size: Int(size))
        }
    }

    /// The bytes of member `name`.
    func data(_ name: String) -> Data? {
        guard let e = entries[name] else { return nil }
        return bytes[(bytes.startIndex + e.dataOffset)..<(bytes.startIndex + e.dataOffset + e.size)]
    }

    private static func findEndRecord(_ bytes: Data) throws -> Int {
        guard bytes.count >= 22 else { throw WeightError.truncated(detail: "too short for a zip archive") }
        let lowest = max(0, bytes.count - 22 - 65_535)
        var i = bytes.count - 22
        let start = bytes.startIndex
        while i >= lowest {
            if bytes[start + i] == 0x50, bytes[start + i + 1] == 0x4B, bytes[start + i + 2] == 5, bytes[start + i + 3] == 6 {
                return i
            }
            i -= 1
        }
        throw WeightError.truncated(detail: "no zip end-of-central-directory record (the download may be cut short)")
    }
}
