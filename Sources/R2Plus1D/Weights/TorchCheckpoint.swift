import Foundation

/// Reads a PyTorch state dict as `torch.save(model.state_dict())` writes it, in either format.
///
/// Zip format (torch >= 1.6), members stored uncompressed under one folder PREFIX:
/// ```
/// PREFIX/data.pkl    pickle of the OrderedDict; each tensor is _rebuild_tensor_v2(storage, offset, size, stride, ...)
///                    with storage the persistent id ("storage", torch.FloatStorage, KEY, location, numel)
/// PREFIX/data/KEY    the storage's raw little-endian bytes
/// ```
/// Legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`), one stream:
/// ```
/// pickle 0x1950a86a20f9469cfc6c (magic), pickle 1001 (protocol), pickle sys_info dict,
/// pickle of the OrderedDict, persistent ids ("storage", type, KEY, location, numel, view_metadata),
/// pickle of the sorted list of KEYs, then per KEY: i64 element count, that many elements' bytes
/// ```
public enum TorchCheckpoint {
    /// The start of every legacy file: pickle protocol 2, LONG1 of 10 bytes holding the magic number, STOP.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    static func isZip(_ bytes: Data) -> Bool { bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) }
    static func isLegacy(_ bytes: Data) -> Bool { bytes.starts(with: legacyMagic) }

    /// - Throws: `WeightError.unknownFormat`, `.truncated`, `.corrupt`, `.unsupportedDType`.
    public static func decode(_ bytes: Data) throws -> StateDict {
        if isZip(bytes) { return try decodeZip(bytes) }
        if isLegacy(bytes) { return try decodeLegacy(bytes) }
        throw WeightError.unknownFormat(detail: "neither a zip archive nor a legacy torch.save stream")
    }

    static func decodeZip(_ bytes: Data) throws -> StateDict {
        let archive = try ZipArchive(bytes)
        guard let pickleName = archive.entries.keys.filter({ $0.hasSuffix("data.pkl") }).min(by: { $0.count < $1.count }),
              let pickle = archive.data(pickleName)
        else { throw WeightError.unknownFormat(detail: "a zip archive without data.pkl is not a torch.save file") }
        let prefix = String(pickleName.dropLast("data.pkl".count))
        var unpickler = Unpickler(pickle, persistentLoad: storageReference)
        let root = try unpickler.load()
        return try stateDict(root) { storage in
            guard let data = archive.data("\(prefix)data/\(storage.key)") else {
                throw WeightError.truncated(detail: "storage data/\(storage.key) is not in the archive")
            }
            return data
        }
    }

    static func decodeLegacy(_ bytes: Data) throws -> StateDict {
        var position = legacyMagic.count
        for _ in 0..<2 {  // protocol version, sys_info
            var header = Unpickler(bytes, at: position) { _ in throw WeightError.corrupt(detail: "persistent id in a header") }
            _ = try header.load()
            position = header.position
        }
        // Storages follow in key order, each as an i64 element count and the bytes; the persistent ids say
        // each one's type and so its element size.
        var sizes: [String: Int] = [:]
        var main = Unpickler(bytes, at: position) { pid in
            let reference = try storageReference(pid)
            if case .storage(let storage) = reference { sizes[storage.key] = storageElementSizes[storage.typeName] }
            return reference
        }
        let root = try main.load()
        var keysPickle = Unpickler(bytes, at: main.position) { _ in throw WeightError.corrupt(detail: "persistent id in the key list") }
        guard case .list(let keyList) = try keysPickle.load() else {
            throw WeightError.corrupt(detail: "the storage key list is not a list")
        }
        var reader = ByteReader(bytes, at: keysPickle.position)
        var storages: [String: Data] = [:]
        for item in keyList.items {
            guard case .string(let key) = item else { throw WeightError.corrupt(detail: "a storage key is not a string") }
            let count = try reader.uint(8, "element count of storage \(key)")
            guard let size = sizes[key] else {
                throw WeightError.unsupportedDType(name: "storage \(key)", dtype: "unknown element size")
            }
            guard count <= UInt64(reader.remaining / size) else {
                throw WeightError.truncated(detail: "storage \(key) claims \(count) elements, \(reader.remaining) bytes left")
            }
            storages[key] = try reader.read(Int(count) * size, "storage \(key)")
        }
        return try stateDict(root) { storage in
            guard let data = storages[storage.key] else { throw WeightError.truncated(detail: "storage \(storage.key) is missing") }
            return data
        }
    }

    /// ("storage", torch.XStorage, KEY, location, numel[, view_metadata]) -> a storage.
    static func storageReference(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let fields) = pid, fields.count >= 5, case .string("storage") = fields[0],
              case .global(_, let typeName) = fields[1] else {
            throw WeightError.corrupt(detail: "a persistent id that is not a storage")
        }
        let key: String
        switch fields[2] {
        case .string(let s): key = s
        case .int(let i): key = String(i)
        default: throw WeightError.corrupt(detail: "a storage key that is not a string")
        }
        if fields.count > 5, case .tuple = fields[5] {
            throw WeightError.corrupt(detail: "storage views (legacy view_metadata) are not used by state dicts")
        }
        return .storage(TorchStorage(key: key, typeName: typeName))
    }

    /// Bytes per element of every storage type torch.save writes, so that storages not read can be skipped.
    static let storageElementSizes: [String: Int] = [
        "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
        "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    ]

    static func elementType(_ storage: TorchStorage) throws -> ElementType {
        switch storage.typeName {
        case "FloatStorage": .float32
        case "HalfStorage": .float16
        case "BFloat16Storage": .bfloat16
        case "DoubleStorage": .float64
        default: throw WeightError.unsupportedDType(name: "storage \(storage.key)", dtype: storage.typeName)
        }
    }

    /// Calls `body` for every (name, tensor) of the root dict, skipping BatchNorm's integer counters.
    static func walkTensors(_ root: PickleValue, _ body: (String, TorchTensorReference) throws -> Void) throws {
        guard case .dict(var dict) = root else { throw WeightError.unknownFormat(detail: "the pickle does not hold a dict") }
        if let nested = dict.items.first(where: { if case .string("state_dict") = $0.key { true } else { false } }),
           case .dict(let inner) = nested.value {
            dict = inner
        }
        for (key, value) in dict.items {
            guard case .string(let name) = key else { throw WeightError.corrupt(detail: "a state dict key is not a string") }
            if name.hasSuffix(".num_batches_tracked") { continue }
            guard case .tensor(let tensor) = value else {
                throw WeightError.corrupt(detail: "state dict entry '\(name)' is not a tensor")
            }
            try body(name, tensor)
        }
    }

    static func stateDict(_ root: PickleValue, storageBytes: (TorchStorage) throws -> Data) throws -> StateDict {
        var result = StateDict()
        try walkTensors(root) { name, ref in
            let type: ElementType
            do { type = try elementType(ref.storage) } catch { throw WeightError.unsupportedDType(name: name, dtype: ref.storage.typeName) }
            let bytes = try storageBytes(ref.storage)
            let available = bytes.count / type.size
            guard ref.offset >= 0, ref.shape.allSatisfy({ $0 >= 0 }), ref.strides.allSatisfy({ $0 >= 0 }),
                  let count = Safetensors.checkedCount(ref.shape) else {
                throw WeightError.corrupt(detail: "tensor '\(name)' has size \(ref.shape) stride \(ref.strides)")
            }
            if count > 0 {
                let last = zip(ref.shape, ref.strides).reduce(ref.offset) { $0 + ($1.0 - 1) * $1.1 }
                guard last < available else {
                    throw WeightError.truncated(detail: "tensor '\(name)' reaches element \(last) of a \(available)-element storage")
                }
            }
            result[name] = Tensor(shape: ref.shape, data: type.floats(bytes, byteOffset: ref.offset * type.size,
                                                                    shape: ref.shape, strides: ref.strides))
        }
        return result
    }
}
