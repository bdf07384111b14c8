import Foundation
@testable import R2Plus1D
import Testing

@Suite struct WeightLoaderTests {
    @Test(arguments: ["dtypes.pth", "dtypes_legacy.pth"])
    func torchDTypesStridesAndOffsets(file: String) throws {
        let dict = try WeightFile.read(path: Fixtures.path(file))
        for name in ["f16", "bf16", "strided", "offset"] {
            let got = try #require(dict[name]), want = try #require(dict["\(name).f32"])
            #expect(got.shape == want.shape)
            #expect(got.data == want.data, "\(name) differs from PyTorch's float32 values")
        }
        #expect(dict["strided"]?.shape == [5, 4])
    }

    @Test func safetensorsHalfAndBFloat16() throws {
        let dict = try WeightFile.read(path: Fixtures.path("dtypes.safetensors"))
        #expect(dict["f16"]!.data == dict["f16.f32"]!.data)
        #expect(dict["bf16"]!.data == dict["bf16.f32"]!.data)
    }

    @Test func halfConversionEdgeCases() {
        #expect(ElementType.halfToFloat(0x3C00) == 1)
        #expect(ElementType.halfToFloat(0xC000) == -2)
        #expect(ElementType.halfToFloat(0x0001) == 0x1p-24)
        #expect(ElementType.halfToFloat(0x7BFF) == 65504)
        #expect(ElementType.halfToFloat(0x7C00) == .infinity)
        #expect(ElementType.halfToFloat(0x7E00).isNaN)
    }

    @Test func allThreeFormatsHoldTheSameTensors() throws {
        let zip = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.pth"))
        let legacy = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d_legacy.pth"))
        let safetensors = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors"))
        #expect(zip.names == safetensors.names && legacy.names == safetensors.names)
        for name in safetensors.names {
            #expect(zip[name] == safetensors[name] && legacy[name] == safetensors[name], "\(name)")
        }
    }

    @Test func safetensorsRoundTripKeepsOrderShapesAndMetadata() throws {
        let a = Tensor.random(shape: [2, 3], seed: 1), b = Tensor(shape: [0], data: [])
        let bytes = Safetensors.encode([("b", b), ("a", a)], metadata: ["k": "v"])
        let back = try Safetensors.decode(bytes)
        #expect(back.tensors["a"] == a && back.tensors["b"] == b)
        #expect(back.metadata == ["k": "v"])
    }

    @Test(arguments: ["tiny_r2plus1d.pth", "tiny_r2plus1d_legacy.pth", "tiny_r2plus1d.safetensors"])
    func truncatedFilesThrow(file: String) throws {
        let bytes = try Fixtures.bytes(file)
        for cut in [0, 1, 7, 8, 9, 64, bytes.count / 10, bytes.count / 2, bytes.count * 9 / 10, bytes.count - 1] {
            #expect(throws: WeightError.self, "cut at \(cut)") { try WeightFile.decode(bytes.prefix(cut)) }
        }
    }

    @Test(arguments: ["tiny_r2plus1d.pth", "tiny_r2plus1d_legacy.pth", "tiny_r2plus1d.safetensors"])
    func corruptedBytesNeverCrash(file: String) throws {
        let original = try Fixtures.bytes(file)
        var random = SplitMix64(seed: 99)
        var failures = 0
        for _ in 0..<300 {
            var bytes = original
            // Corrupt the structured parts (headers, pickle, directory) more often than the float data.
            let region = Int(random.next() % 2) == 0 ? min(bytes.count, 4096) : bytes.count
            for _ in 0..<3 {
                bytes[Int(random.next() % UInt64(region))] = UInt8(truncatingIfNeeded: random.next())
            }
            if (try? WeightFile.decode(bytes)) == nil { failures += 1 }
        }
        #expect(failures > 0, "no corruption was ever detected")
    }

    @Test func garbageAndEmptyFiles() {
        #expect(throws: WeightError.truncated(detail: "the file is empty")) { try WeightFile.decode(Data()) }
        var random = SplitMix64(seed: 5)
        let noise = Data((0..<1024).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        #expect(throws: WeightError.self) { try WeightFile.decode(noise) }
        #expect(throws: WeightError.self) { try WeightFile.decode(Data("hello, this is text\n".utf8)) }
        #expect(throws: WeightError.self) { try WeightFile.read(path: "/nonexistent/weights.pth") }
    }

    @Test func implausibleSafetensorsClaimsAreRefusedBeforeAllocating() throws {
        func file(_ header: String, dataBytes: Int = 0) -> Data {
            var d = Data()
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(Data(header.utf8))
            d.append(Data(count: dataBytes))
            return d
        }
        let huge = #"{"w":{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}"#
        #expect(throws: WeightError.self) { try Safetensors.decode(file(huge, dataBytes: 16)) }
        let overflow = #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}"#
        #expect(throws: WeightError.self) { try Safetensors.decode(file(overflow)) }
        let mismatch = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#
        #expect(throws: WeightError.self) { try Safetensors.decode(file(mismatch, dataBytes: 8)) }
        let int8 = #"{"w":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#
        #expect(throws: WeightError.unsupportedDType(name: "w", dtype: "I8")) { try Safetensors.decode(file(int8, dataBytes: 2)) }
        var claim = Data()
        withUnsafeBytes(of: UInt64.max.littleEndian) { claim.append(contentsOf: $0) }
        claim.append(Data("{}".utf8))
        #expect(throws: WeightError.self) { try Safetensors.decode(claim) }
    }

    @Test func pickleRefusesArbitraryGlobals() {
        // protocol 2: GLOBAL os.system, BINUNICODE "ls", TUPLE1, REDUCE, STOP
        let bytes = Data([0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x58, 2, 0, 0, 0] + Array("ls".utf8) + [0x85, 0x52, 0x2E])
        var unpickler = Unpickler(bytes) { _ in .none }
        #expect(throws: WeightError.self) { _ = try unpickler.load() }
    }

    @Test func shapeMismatchNamesTheTensor() throws {
        var dict = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors"))
        let mid = dict["layer2.0.conv1.0.0.weight"]!.shape[0]
        dict["layer2.0.conv1.0.0.weight"] = Tensor(zeros: [mid, 9, 1, 3, 3])
        let error = #expect(throws: WeightError.self) { try R2Plus1D18(weights: dict) }
        #expect(error == .shapeMismatch(name: "layer2.0.conv1.0.0.weight", expected: [mid, 8, 1, 3, 3], got: [mid, 9, 1, 3, 3]))
        #expect(error?.description == "tensor 'layer2.0.conv1.0.0.weight' has shape [\(mid), 9, 1, 3, 3], expected [\(mid), 8, 1, 3, 3]")
    }

    @Test func errorsAreEqualOnlyForTheSameKindAndValues() {
        #expect(WeightError.truncated(detail: "x") == .truncated(detail: "x"))
        #expect(WeightError.truncated(detail: "x") != .corrupt(detail: "x"))
        #expect(WeightError.truncated(detail: "x") != .truncated(detail: "y"))
        #expect(BLASKernelError.unknownName("x") != .notAvailable(.haswell, loaded: "x"))
    }

    @Test func missingAndUnexpectedTensors() throws {
        var dict = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors"))
        dict.tensors["layer3.1.conv2.1.running_var"] = nil
        #expect(throws: WeightError.missingTensor(name: "layer3.1.conv2.1.running_var")) { try R2Plus1D18(weights: dict) }
        dict = try WeightFile.read(path: Fixtures.path("tiny_r2plus1d.safetensors"))
        dict["head.extra"] = Tensor(zeros: [1])
        #expect(throws: WeightError.unexpectedTensor(name: "head.extra")) { try R2Plus1D18(weights: dict) }
        dict.tensors["head.extra"] = nil
        dict.tensors["layer2.0.downsample.0.weight"] = nil
        #expect(throws: WeightError.missingTensor(name: "layer2.0.downsample.0.weight")) { try R2Plus1D18(weights: dict) }
    }
}
