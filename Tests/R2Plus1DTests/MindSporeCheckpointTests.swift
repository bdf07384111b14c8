import Foundation
import R2Plus1D
import Testing

/// Hand-made checkpoints in MindSpore's wire format, for the cases MindSpore 2.10 does not write.
enum CheckpointBytes {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return out + [UInt8(value)]
    }

    static func lengthDelimited(_ field: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(field << 3 | 2) + varint(UInt64(payload.count)) + payload
    }

    static func value(tag: String, dtype: String, dims: [Int], content: [UInt8]) -> [UInt8] {
        let tensor = dims.flatMap { varint(1 << 3) + varint(UInt64(bitPattern: Int64($0))) }
            + lengthDelimited(2, Array(dtype.utf8)) + lengthDelimited(3, content)
        return lengthDelimited(1, lengthDelimited(1, Array(tag.utf8)) + lengthDelimited(2, tensor))
    }

    static func float32(_ values: [Float]) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    }

    /// Where each top-level value ends: the prefixes of a file that are whole checkpoints.
    static func valueEnds(_ bytes: Data) -> [Int] {
        let b = [UInt8](bytes)
        var ends = [0]
        var i = 0
        while i < b.count, b[i] == 0x0A {
            i += 1
            var length = 0, shift = 0
            while b[i] & 0x80 != 0 { length |= Int(b[i] & 0x7F) << shift; shift += 7; i += 1 }
            length |= Int(b[i]) << shift
            i += 1 + length
            ends.append(i)
        }
        return ends
    }
}

/// The `.ckpt` reader against files MindSpore 2.10 wrote (Fixtures/mindspore, listed in tiny.json) and against
/// hostile bytes.
@Suite struct MindSporeCheckpointTests {
    static func fixture(_ name: String) throws -> Data { try Fixtures.bytes("mindspore/\(name)") }

    static func expectations() throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: fixture("tiny.json")) as! [String: Any]
        return json["files"] as! [String: Any]
    }

    @Test(arguments: ["tiny.ckpt", "tiny_more.ckpt", "tiny_crc.ckpt"])
    func everyEntryOfTinyJSON(file: String) throws {
        let expected = try Self.expectations()[file] as! [String: Any]
        let tensors = expected["tensors"] as! [String: [String: Any]]
        let entries = try MindSporeCheckpoint.entries(Self.fixture(file))
        #expect(entries.map(\.tag) == expected["tag_order"] as! [String])
        for entry in entries {
            let want = try #require(tensors[entry.tag])
            #expect(entry.dtype == want["dtype"] as! String, "\(entry.tag)")
            #expect(entry.shape == want["shape"] as! [Int], "\(entry.tag)")
            #expect(entry.content.count == want["content_bytes"] as! Int, "\(entry.tag)")
            if entry.dtype == "str" {
                #expect(try entry.string() == want["value"] as! String)
                continue
            }
            let values = (want["values"] as! [Any]).map { v -> Double in
                if let b = v as? Bool, entry.dtype == "Bool" { return b ? 1 : 0 }
                return (v as! NSNumber).doubleValue
            }
            let got = try entry.doubles()
            #expect(got.count == values.count, "\(entry.tag)")
            for (g, w) in zip(got, values) { #expect(abs(g - w) <= 1e-12 * max(1, abs(w)), "\(entry.tag): \(g) vs \(w)") }
            if let bits = want["bf16_bits"] as? [Int] {
                let raw = entry.content.withUnsafeBytes { raw in
                    (0..<bits.count).map { Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
                }
                #expect(raw == bits)
            }
        }
    }

    @Test func floatTensorsReachTheStateDictAsFloat32() throws {
        // tiny.ckpt's names are outside the network's, so read them through entries(): WeightFile skips them.
        let entries = try MindSporeCheckpoint.entries(Self.fixture("tiny.ckpt"))
        let f16 = try #require(entries.first { $0.tag == "t_f16" })
        #expect(try f16.doubles() == [0.5, -1.25, 65504, 6.103515625e-05])
        let scalar = try #require(entries.first { $0.tag == "t_f32_scalar" })
        #expect(try scalar.shape == [] && scalar.doubles() == [3.5])
        #expect(try WeightFile.decode(Self.fixture("tiny.ckpt")).names.isEmpty)
    }

    @Test func encryptedFilesAreRefusedAsEncrypted() throws {
        let gcm = try Self.fixture("tiny_enc.ckpt")
        var cbc = gcm
        cbc[cbc.startIndex] = 0xD9
        for bytes in [gcm, cbc] {
            let error = try #require(throws: WeightError.self) { try WeightFile.decode(bytes) }
            #expect(error.description.hasPrefix("the weight file is encrypted: a MindSpore checkpoint saved with enc_key"))
        }
    }

    @Test func aWrongCRCIsCorrupt() throws {
        let good = try Self.fixture("tiny_crc.ckpt")
        #expect(try MindSporeCheckpoint.entries(good).count == 6)
        for offset in [30, good.count - 1] {  // a Float32 of t_f32, and the trailer's CRC itself
            var bad = good
            bad[bad.startIndex + offset] ^= 0x01
            let error = try #require(throws: WeightError.self) { try MindSporeCheckpoint.entries(bad) }
            #expect(error.description.contains("CRC32"))
        }
    }

    /// Every prefix is either whole values (then it reads as the first entries) or a typed error, never a crash.
    @Test(arguments: ["tiny.ckpt", "tiny_more.ckpt", "tiny_crc.ckpt", "tiny_seed.ckpt"])
    func truncationAtEveryOffset(file: String) throws {
        let bytes = try Self.fixture(file)
        let tags = try MindSporeCheckpoint.entries(bytes).map(\.tag)
        let ends = Set(CheckpointBytes.valueEnds(bytes))
        let stride = bytes.count > 4096 ? 97 : 1
        for length in Swift.stride(from: 0, to: bytes.count, by: stride) {
            let prefix = bytes.prefix(length)
            do {
                let got = try MindSporeCheckpoint.entries(prefix).map(\.tag)
                #expect(ends.contains(length), "a \(length)-byte prefix of \(file) read as whole")
                #expect(Array(tags.prefix(got.count)) == got)
            } catch is WeightError {
            }
            // Through the loader too: a prefix is a smaller state dict or a WeightError, which the catch lets by.
            do { _ = try WeightFile.decode(prefix) } catch is WeightError {}
        }
    }

    /// Found by the fuzzer: an empty tensor whose other dimensions multiply past Int.max.
    @Test func anEmptyTensorWithHugeDimensionsIsReadWithoutOverflow() {
        let bytes = Data([0x0a, 0x26, 0x0a, 0x05, 0x63, 0x6f, 0x6e, 0x76, 0x31, 0x12, 0x1d, 0x08, 0x53, 0x12, 0x07, 0x46, 0x6c, 0x6f, 0x61, 0x74, 0x36, 0x34, 0x0a, 0x10, 0x55, 0x55, 0x66, 0x3f, 0x00, 0x61, 0x6e, 0x73, 0x20, 0x55, 0xc0, 0xed, 0x24, 0x0a, 0x05, 0x74])
        do {
            _ = try MindSporeCheckpoint.decode(bytes)
        } catch {
            #expect(error is WeightError, "\(error)")
        }
    }

    @Test func hostileVarintsAndLengths() {
        let cases: [(bytes: [UInt8], message: String)] = [
            ([0x0A] + [UInt8](repeating: 0xFF, count: 10) + [0x01], "longer than 64 bits"),  // an 11-byte length
            ([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], "longer than 64 bits"),  // 65th bit
            ([0x0A, 0xFF, 0xFF], "mid-varint"),
            ([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "declares"),  // 2^63 - 1 bytes
            ([0x0A, 0x05, 0x0A, 0x03, 0x61], "declares"),  // a tag longer than its value
            ([0x0A, 0x02, 0x0B, 0x00], "wire type 3"),  // a group
            ([0x0A, 0x02, 0x00, 0x00], "field number 0"),
        ]
        for (bytes, message) in cases {
            let error = #expect(throws: WeightError.self) { try MindSporeCheckpoint.entries(Data(bytes)) }
            #expect(error?.description.contains(message) == true, "\(bytes): \(error.map { "\($0)" } ?? "no error")")
        }
        // A huge length inside a tensor, after a sound start.
        let inner = CheckpointBytes.lengthDelimited(1, Array("w".utf8)) + [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        let outer = [0x0A] + CheckpointBytes.varint(UInt64(inner.count)) + inner
        #expect(throws: WeightError.self) { try MindSporeCheckpoint.entries(Data(outer)) }
    }

    @Test func structuralErrorsAreCorrupt() {
        let f = CheckpointBytes.float32([1, 2, 3, 4, 5])
        let cases: [(bytes: [UInt8], message: String)] = [
            (CheckpointBytes.value(tag: "w", dtype: "Float32", dims: [2, 3], content: f), "holds 20 bytes"),
            (CheckpointBytes.value(tag: "w", dtype: "Float32", dims: [Int(Int32.max), Int(Int32.max), Int(Int32.max)],
                                   content: f), "holds 20 bytes"),
            (CheckpointBytes.value(tag: "w", dtype: "Float32", dims: [-1], content: f), "dimension -1"),
            (CheckpointBytes.value(tag: "w", dtype: "Float32", dims: [Int](repeating: 1, count: 17), content: f), "dims"),
            ([0x12, 0x00], "field 2 wire type 2"),  // not a checkpoint value
            (CheckpointBytes.lengthDelimited(1, CheckpointBytes.lengthDelimited(1, Array("w".utf8))), "has no tensor"),
            (CheckpointBytes.lengthDelimited(1, CheckpointBytes.lengthDelimited(2, CheckpointBytes.lengthDelimited(2, Array("Int8".utf8)))),
             "has no tag"),
            (CheckpointBytes.value(tag: "s", dtype: "str", dims: [0], content: [0x61, 0, 0]), "UTF-32"),
        ]
        for (bytes, message) in cases {
            let error = #expect(throws: WeightError.self) { try MindSporeCheckpoint.entries(Data(bytes)) }
            #expect(error?.description.contains(message) == true, "\(error.map { "\($0)" } ?? "no error")")
        }
    }

    @Test func splitTensorsAreJoinedAndOldScalarsAreZeroD() throws {
        let v = CheckpointBytes.value
        let bytes = v("w", "Float32", [2, 3], CheckpointBytes.float32([1, 2, 3]))
            + v("w", "Float32", [2, 3], CheckpointBytes.float32([4, 5, 6]))
            + v("step", "Int32", [0], [7, 0, 0, 0])  // MindSpore 1.x's 0-d
        let entries = try MindSporeCheckpoint.entries(Data(bytes))
        #expect(entries.map(\.tag) == ["w", "step"])
        #expect(try entries[0].shape == [2, 3] && entries[0].doubles() == [1, 2, 3, 4, 5, 6])
        #expect(try entries[1].shape == [] && entries[1].doubles() == [7])

        let disagreeing = v("w", "Float32", [2, 3], CheckpointBytes.float32([1, 2, 3]))
            + v("w", "Float16", [2, 3], [0, 0, 0, 0, 0, 0])
        #expect(throws: WeightError.self) { try MindSporeCheckpoint.entries(Data(disagreeing)) }
        let short = v("w", "Float32", [2, 3], CheckpointBytes.float32([1, 2, 3]))
        #expect(throws: WeightError.self) { try MindSporeCheckpoint.entries(Data(short)) }
    }

    /// Optimizer state and counters are skipped unread: a malformed one does not stop the load.
    @Test func trainingStateIsSkipped() throws {
        let v = CheckpointBytes.value
        let bytes = v("classifier.bias", "Float32", [2], CheckpointBytes.float32([0.5, -0.5]))
            + v("moments.classifier.bias", "Float32", [1000, 1000], CheckpointBytes.float32([1]))
            + v("global_step", "Int32", [], [1, 0, 0, 0]) + v("learning_rate", "Float32", [], CheckpointBytes.float32([0.1]))
            + v("epoch_num", "Int64", [], [UInt8](repeating: 0, count: 8))
        let dict = try WeightFile.decode(Data(bytes))
        #expect(dict.names == ["fc.bias"])
        #expect(dict["fc.bias"]!.data == [0.5, -0.5])

        let integerWeight = v("classifier.bias", "Int32", [1], [1, 0, 0, 0])
        #expect(throws: WeightError.unsupportedDType(name: "classifier.bias", dtype: "Int32")) {
            try WeightFile.decode(Data(integerWeight))
        }
    }

    @Test func seedNamesMapToTorchvisionNames() {
        let map = [
            "conv1.0.weight": "stem.0.weight",
            "conv1.1.bn2d.gamma": "stem.1.weight",
            "conv1.4.bn2d.moving_variance": "stem.4.running_var",
            "layer2.0.conv12.conv1_0.features.0.weight": "layer2.0.conv1.0.0.weight",
            "layer2.0.conv12.conv1_0.features.1.bn2d.beta": "layer2.0.conv1.0.1.bias",
            "layer2.0.conv12.conv1_1.features.0.weight": "layer2.0.conv1.0.3.weight",
            "layer2.0.conv12.conv1_1.features.1.bn2d.moving_mean": "layer2.0.conv1.1.running_mean",
            "layer4.1.conv12.conv2_1.features.1.bn2d.gamma": "layer4.1.conv2.1.weight",
            "layer3.0.down_sample.features.0.weight": "layer3.0.downsample.0.weight",
            "layer3.0.down_sample.features.1.bn2d.moving_variance": "layer3.0.downsample.1.running_var",
            "classifier.weight": "fc.weight",
            "classifier.bias": "fc.bias",
        ]
        for (seed, torchvision) in map { #expect(MindSporeCheckpoint.torchvisionName(seed) == torchvision, "\(seed)") }
        for name in ["conv1.2.weight", "conv1.0.bias", "conv1.1.gamma", "layer1.0.conv12.conv3_0.features.0.weight",
                     "layer1.0.conv12.conv1_0.features.0.gamma", "layer1.0.down_sample.features.2.weight",
                     "stem.0.weight", "moments.classifier.weight", "classifier.bn2d.gamma"] {
            #expect(MindSporeCheckpoint.torchvisionName(name) == nil, "\(name)")
        }
    }
}

/// The network on checkpoints MindSpore wrote, against MindSpore's own logits (tools/make_mindspore_fixtures.py).
@Suite struct MindSporeParityTests {
    static func io() throws -> [String: MindSporeCheckpoint.Entry] {
        let entries = try MindSporeCheckpoint.entries(Fixtures.bytes("mindspore/tiny_seed_io.ckpt"))
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.tag, $0) })
    }

    static func tensor(_ entry: MindSporeCheckpoint.Entry) throws -> Tensor {
        Tensor(shape: entry.shape, data: try entry.doubles().map(Float.init))
    }

    @Test(arguments: [("tiny_seed.ckpt", "logits"), ("tiny_seed_train.ckpt", "train_logits")], [true, false])
    func logitsMatchMindSpore(file: (name: String, logits: String), winograd: Bool) throws {
        let io = try Self.io()
        let clips = try Self.tensor(io["clips"]!)
        let expected = try Self.tensor(io[file.logits]!)
        let model = try R2Plus1D18(weights: WeightFile.read(path: Fixtures.path("mindspore/\(file.name)")), winograd: winograd)
        let logits = model.forward(clips)
        #expect(logits.shape == [2, 10])
        let scale = expected.data.map(abs).max()!
        #expect(logits.maxAbsDifference(expected) <= 1e-4 * scale)
    }

    /// The map yields exactly torchvision's state dict: the seed network's names equal tools/make_fixtures.py's.
    @Test func mappedNamesAreTorchvisionsStateDict() throws {
        let mapped = try WeightFile.read(path: Fixtures.path("mindspore/tiny_seed.ckpt")).names
        let torchvision = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors")).names
        #expect(mapped == torchvision)
    }

    /// ModelCheckpoint's file holds the optimizer's state and counters beside the network; none reaches the model.
    @Test func trainingCheckpointHoldsTrainingState() throws {
        let tags = try MindSporeCheckpoint.entries(Fixtures.bytes("mindspore/tiny_seed_train.ckpt")).map(\.tag)
        let network = try WeightFile.read(path: Fixtures.path("mindspore/tiny_seed.ckpt")).names.count
        #expect(tags.filter { $0.hasPrefix("moments.") }.count > 0)
        #expect(["global_step", "learning_rate", "momentum", "epoch_num", "step_num"].allSatisfy(tags.contains))
        #expect(try WeightFile.read(path: Fixtures.path("mindspore/tiny_seed_train.ckpt")).names.count == network)
    }
}
