import Foundation
import HTTPServer
@testable import Service
import Testing

/// The Open Inference Protocol v2 codec from byte strings, as tritonclient lays them out.
@Suite struct InferenceProtocolTests {
    static let model = InferenceModel(classes: 3, features: 2, labels: Labels(names: ["run", "jump", "swim"]), maxClips: 4)

    /// A JSON header followed by binary tensors, and the header's length.
    static func body(_ json: String, _ tail: [UInt8]) -> (Data, Int) {
        (Data(json.utf8) + Data(tail), json.utf8.count)
    }

    static func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }

    static func floats(_ values: [Float]) -> [UInt8] { values.flatMap { le32(Int($0.bitPattern)) } }

    /// JSONSerialization keeps every value boxed, 70-95 bytes each: one 61 MB body of zeros took the server to 2.5 GB.
    /// The values are bounded from the text before it is parsed: every value or key but the first in its array or
    /// object follows a comma, and commas inside strings do not count.
    @Test func jsonValuesAreCountedBeforeParsing() throws {
        #expect(JSONBody.valueBound(Data("[1,2,3]".utf8)) >= 3)
        #expect(JSONBody.valueBound(Data("[[1,2],[3,4.5]]".utf8)) >= 6)
        #expect(JSONBody.valueBound(Data(#"{"a":"x,y,[z{","b":[true,null]}"#.utf8)) == 5)
        #expect(JSONBody.valueBound(Data(#"{"a":"q\",[,","b":1}"#.utf8)) == 3)
        let zeros = Data(("[" + String(repeating: "0,", count: 999) + "0]").utf8)
        #expect(JSONBody.valueBound(zeros) >= 1000)
        // Over the cap: refused before any parsing, with the way out.
        let huge = #"{"inputs":[{"name":"CLIPS","datatype":"FP32","shape":[1],"data":["# + String(repeating: "0,", count: JSONBody.maxValues) + "0]}]}"
        do {
            _ = try InferenceRequest(body: Data(huge.utf8), headerLength: nil)
            Issue.record("a JSON body over the value cap was parsed")
        } catch let error as ServiceError {
            #expect(error.status == .contentTooLarge && error.detail.contains("binary"), "\(error)")
        }
        // Under the cap but over what the body budget has left: 503, to be retried. 20,000 values hold 1.9 MB.
        let budget = BodyBudget(limit: 4 << 20)
        let context = RequestContext(requestID: "t", budget: budget)
        #expect(RequestContext(requestID: "other", budget: budget).hold(3 << 20))
        let json = #"{"inputs":[{"name":"X","datatype":"FP32","shape":[20000],"data":["# + String(repeating: "0,", count: 19_999) + "0]}]}"
        do {
            _ = try InferenceRequest(body: Data(json.utf8), headerLength: nil, context: context)
            Issue.record("a JSON body over the budget was parsed")
        } catch let error as ServiceError {
            #expect(error.status == .serviceUnavailable, "\(error)")
        }
        #expect(try InferenceRequest(body: Data(json.utf8), headerLength: nil).inputs[0].shape == [20000])
        let predict = #"{"instances":["# + String(repeating: "0,", count: 19_999) + "0]}"
        #expect(throws: ServiceError.overloaded(BodyBudget.refusal)) {
            try V1PredictRequest(body: Data(predict.utf8), classes: 3, maxClips: 4, context: context)
        }
        // More than the whole budget could ever hold is a 413 too, not a 503 to retry forever.
        let small = RequestContext(requestID: "s", budget: BodyBudget(limit: 1 << 20))
        do {
            _ = try InferenceRequest(body: Data(json.utf8), headerLength: nil, context: small)
            Issue.record("a JSON body over the whole budget was parsed")
        } catch let error as ServiceError {
            #expect(error.status == .contentTooLarge && error.detail.contains("binary"), "\(error)")
        }
    }

    @Test func binaryBytesInputIsLengthPrefixed() throws {
        let video: [UInt8] = [0, 1, 2, 0xFF, 0x7B]
        let (data, length) = Self.body(
            #"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":9}}],"parameters":{"clips":3,"timeout":250000}}"#,
            Self.le32(5) + video)
        let request = try InferenceRequest(body: data, headerLength: length)
        #expect(request.inputs == [.init(name: "VIDEO", datatype: .bytes, shape: [1], values: .bytes([Data(video)]), binary: true)])
        #expect(request.clips == 3 && request.timeoutMicroseconds == 250_000)
        #expect(try Self.model.source(of: request) == .video(Data(video), clips: 3))
    }

    @Test func binaryFloatInputIsLittleEndian() throws {
        let values: [Float] = [1.5, -2, 0.25]
        let (data, length) = Self.body(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1,3],"parameters":{"binary_data_size":12}}]}"#,
                                       Self.floats(values))
        let request = try InferenceRequest(body: data, headerLength: length)
        #expect(request.inputs[0].values == .fp32(values))
    }

    @Test func jsonInputsAreFlattenedAndVideoIsBase64() throws {
        let video = Data([9, 8, 7, 0])
        let json = #"{"id":"r1","inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"data":[""# + video.base64EncodedString()
            + #""]}],"outputs":[{"name":"PROBS","parameters":{"classification":2,"binary_data":true}}]}"#
        let request = try InferenceRequest(body: Data(json.utf8), headerLength: nil)
        #expect(request.id == "r1")
        #expect(request.outputs == [.init(name: "PROBS", binary: true, classification: 2)])
        #expect(try Self.model.source(of: request) == .video(video, clips: 1))
        let nested = try InferenceRequest(body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[2,2],"data":[[1,2],[3,4.5]]}]}"#.utf8),
                                          headerLength: nil)
        #expect(nested.inputs[0].values == .fp32([1, 2, 3, 4.5]))
    }

    @Test(arguments: [
        // Header length past the body.
        (#"{"inputs":[]}"#, 99, "Inference-Header-Content-Length"),
        // Binary size past the tail.
        (#"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":50}}]}"#, -1, "only 0 bytes follow"),
        // A wrong element count for the shape.
        (#"{"inputs":[{"name":"X","datatype":"FP32","shape":[3],"data":[1,2]}]}"#, -1, "its shape needs 3"),
        (#"{"inputs":[{"name":"X","datatype":"INT8","shape":[1],"data":[1]}]}"#, -1, "datatype INT8"),
        (#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[true]}]}"#, -1, "not a number"),
        (#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"parameters":{"timeout":"soon"}}"#, -1, "timeout must be an integer"),
        (#"{"inputs":[{"name":"X","datatype":"FP32","shape":[4611686018427387904,4],"data":[1]}]}"#, -1, "too many elements"),
        ("not json", -1, "not valid JSON"),
    ])
    func malformedRequestsSayWhatIsWrong(json: String, headerLength: Int, expected: String) {
        do {
            _ = try InferenceRequest(body: Data(json.utf8), headerLength: headerLength < 0 ? nil : headerLength)
            Issue.record("accepted \(json)")
        } catch let error as ServiceError {
            #expect(error.status == .badRequest)
            #expect(error.detail.contains(expected), "\(error.detail)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aBytesElementCutShortIsRefused() {
        let (data, length) = Self.body(#"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}"#,
                                       Self.le32(100) + [1, 2])
        #expect(throws: ServiceError.self) { try InferenceRequest(body: data, headerLength: length) }
    }

    @Test func inputsTheModelDoesNotTakeAreRefused() throws {
        func source(_ json: String) throws -> InferenceModel.Source {
            try Self.model.source(of: InferenceRequest(body: Data(json.utf8), headerLength: nil))
        }
        #expect(throws: ServiceError.self) { try source(#"{"inputs":[{"name":"IMAGE","datatype":"FP32","shape":[1],"data":[1]}]}"#) }
        #expect(throws: ServiceError.self) { try source(#"{"inputs":[{"name":"CLIPS","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}"#) }
        #expect(throws: ServiceError.self) { try source(#"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"data":["%%%"]}]}"#) }
        #expect(throws: ServiceError.self) {
            try source(#"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"data":["AAAA"]}],"parameters":{"clips":5}}"#)
        }
        let unknownOutput = try InferenceRequest(
            body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"outputs":[{"name":"FEATURES"}]}"#.utf8), headerLength: nil)
        #expect(throws: ServiceError.self) { try Self.model.validate(unknownOutput) }
    }

    @Test func outputsAreLogitsMeanSoftmaxAndEmbeddings() throws {
        let request = try InferenceRequest(body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}]}"#.utf8), headerLength: nil)
        let logits: [[Float]] = [[2, 0, 1], [0, 0, 5]]
        let outputs = Self.model.outputs(for: request, logits: logits, embeddings: [[1, 2], [3, 4]])
        #expect(outputs.map(\.name) == ["LOGITS", "PROBS", "EMBEDDING"])
        #expect(outputs[0].shape == [2, 3] && outputs[0].values == .fp32([2, 0, 1, 0, 0, 5]))
        #expect(outputs[2].shape == [2, 2] && outputs[2].values == .fp32([1, 2, 3, 4]))
        guard case .fp32(let probabilities) = outputs[1].values else { Issue.record("PROBS is not FP32"); return }
        let expected = Classification.predictions(logits: logits, labels: Self.model.labels, topK: 3)
        for prediction in expected { #expect(abs(Double(probabilities[prediction.index]) - prediction.score) < 1e-6) }
    }

    @Test func classificationExtensionGivesValueIndexLabel() throws {
        let json = #"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"outputs":[{"name":"LOGITS","parameters":{"classification":2}}]}"#
        let request = try InferenceRequest(body: Data(json.utf8), headerLength: nil)
        let outputs = Self.model.outputs(for: request, logits: [[0.5, 3, 1], [4, 1, 2]], embeddings: [])
        #expect(outputs.count == 1 && outputs[0].datatype == .bytes && outputs[0].shape == [2, 2])
        #expect(outputs[0].values == .bytes(["3.0:1:jump", "1.0:2:swim", "4.0:0:run", "2.0:2:swim"].map { Data($0.utf8) }))
    }

    @Test func topKMakesProbsAClassificationUnlessTheOutputSaysOtherwise() throws {
        let logits: [[Float]] = [[0, 2, 1]]
        let all = try InferenceRequest(body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"parameters":{"top_k":2}}"#.utf8),
                                       headerLength: nil)
        let probs = try #require(Self.model.outputs(for: all, logits: logits, embeddings: [[0, 0]]).first { $0.name == "PROBS" })
        #expect(probs.datatype == .bytes && probs.shape == [2])
        guard case .bytes(let items) = probs.values else { Issue.record("PROBS is not BYTES"); return }
        #expect(items.map { String(decoding: $0, as: UTF8.self).split(separator: ":").dropFirst().joined(separator: ":") } == ["1:jump", "2:swim"])
        let own = try InferenceRequest(
            body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"parameters":{"top_k":2},"outputs":[{"name":"PROBS","parameters":{"classification":1}}]}"#.utf8),
            headerLength: nil)
        #expect(Self.model.outputs(for: own, logits: logits, embeddings: []).first?.shape == [1])
        let tooMany = try InferenceRequest(body: Data(#"{"inputs":[{"name":"X","datatype":"FP32","shape":[1],"data":[1]}],"parameters":{"top_k":4}}"#.utf8),
                                           headerLength: nil)
        #expect(throws: ServiceError.self) { try Self.model.validate(tooMany) }
    }

    @Test func binaryResponseFollowsItsJSONHeader() throws {
        let response = InferenceResponse(modelName: "m", modelVersion: "1", id: nil, outputs: [
            .init(name: "A", datatype: .fp32, shape: [2], values: .fp32([1, -0.5]), binary: true),
            .init(name: "B", datatype: .bytes, shape: [1], values: .bytes([Data("hi".utf8)]), binary: false),
            .init(name: "C", datatype: .bytes, shape: [1], values: .bytes([Data("xyz".utf8)]), binary: true),
        ])
        let (body, length) = response.encoded()
        let headerLength = try #require(length)
        let header = try #require(try JSONSerialization.jsonObject(with: body.prefix(headerLength)) as? [String: Any])
        let outputs = try #require(header["outputs"] as? [[String: Any]])
        #expect((outputs[0]["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 8)
        #expect(outputs[0]["data"] == nil)
        #expect(outputs[1]["data"] as? [String] == ["hi"])
        #expect((outputs[2]["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 7)
        #expect([UInt8](body.dropFirst(headerLength)) == Self.floats([1, -0.5]) + Self.le32(3) + Array("xyz".utf8))
        // And what it encodes reads back as a request would.
        let (request, requestLength) = Self.body(#"{"inputs":[{"name":"A","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}"#,
                                                 [UInt8](body.dropFirst(headerLength).prefix(8)))
        let parsed = try InferenceRequest(body: request, headerLength: requestLength)
        #expect(parsed.inputs[0].values == .fp32([1, -0.5]))
    }

    @Test func allJSONResponseHasNoHeaderLength() throws {
        let response = InferenceResponse(modelName: "m", modelVersion: "1", id: "x", outputs: [
            .init(name: "A", datatype: .fp32, shape: [1], values: .fp32([.infinity]), binary: false),
        ])
        let (body, length) = response.encoded()
        #expect(length == nil)
        #expect(String(decoding: body, as: UTF8.self).contains(#""id":"x""#))
    }

    @Test func v1PredictTakesBase64Instances() throws {
        let video = Data([1, 2, 3])
        let body = Data(#"{"instances":[{"video":{"b64":""#.utf8) + Data(video.base64EncodedString().utf8) + Data(#""},"top_k":2},{"video":"AQID","clips":2}]}"#.utf8)
        let request = try V1PredictRequest(body: body, classes: 3, maxClips: 4)
        #expect(request.instances.map(\.video) == [video, video])
        #expect(request.instances.map(\.topK) == [2, 3] && request.instances.map(\.clips) == [1, 2])
        // TensorFlow Serving's forms for a model with one binary input, which KServe v1 clients send as well: the
        // instance is the {"b64"} value itself, or that value under a name of the client's own.
        let shorthand = try V1PredictRequest(body: Data(#"{"instances":[{"b64":"AQID"},{"video_bytes":{"b64":"AQID"},"top_k":1}]}"#.utf8),
                                             classes: 3, maxClips: 4)
        #expect(shorthand.instances.map(\.video) == [video, video] && shorthand.instances.map(\.topK) == [3, 1])
        #expect(throws: ServiceError.self) { try V1PredictRequest(body: Data(#"{"instances":[{"image":"AQID"}]}"#.utf8), classes: 3, maxClips: 4) }
        // Two binary values: which one is the video is not said.
        #expect(throws: ServiceError.self) {
            try V1PredictRequest(body: Data(#"{"instances":[{"a":{"b64":"AQID"},"b":{"b64":"AQID"}}]}"#.utf8), classes: 3, maxClips: 4)
        }
        #expect(throws: ServiceError.self) { try V1PredictRequest(body: Data(#"{"instances":[]}"#.utf8), classes: 3, maxClips: 4) }
    }
}
