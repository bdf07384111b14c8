import Foundation
import R2Plus1D
import Service
import Synchronization
import TestSupport
import Testing

/// The v2 and v1 inference routes end to end over loopback: same answers as /classify, errors as `{"error"}`.
@Suite(.serialized) struct KServeEndpointTests {
    static func video() throws -> Data { try TestVideos.h264(seconds: 3, gop: 30) }

    static func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xFF) } }

    /// POSTs `body` with extra header lines.
    static func post(_ test: TestService, _ path: String, body: Data, headers: [String] = []) throws
        -> (status: Int, headers: [String: String], body: String) {
        let client = try RawClient(port: test.port, receiveTimeout: 60)
        client.send("POST \(path) HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "Content-Length: \(body.count)\r\n\r\n")
        client.send([UInt8](body))
        guard let response = client.response() else { throw URLError(.badServerResponse) }
        return response
    }

    /// An infer request with the video as a binary BYTES input, outputs in JSON.
    static func binaryVideoRequest(_ video: Data, parameters: String) -> (body: Data, headerLength: Int) {
        let json = #"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":\#(video.count + 4)}}],"parameters":\#(parameters)}"#
        return (Data(json.utf8) + Data(le32(video.count)) + video, json.utf8.count)
    }

    static func outputs(_ body: String) throws -> [String: (shape: [Int], data: [Any])] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        var result: [String: (shape: [Int], data: [Any])] = [:]
        for output in try #require(json["outputs"] as? [[String: Any]]) {
            result[output["name"] as! String] = (output["shape"] as! [Int], output["data"] as? [Any] ?? [])
        }
        return result
    }

    @Test func discoveryDescribesTheModel() throws {
        let test = try TestService()
        defer { #expect(test.stop()) }
        let server = try test.get("/v2")
        #expect(server.status == 200 && server.body.contains("\"binary_tensor_data\"") && server.body.contains("\"classification\""))
        for path in ["/v2/models/r2plus1d_18", "/v2/models/r2plus1d_18/versions/1"] {
            let metadata = try test.get(path)
            #expect(metadata.status == 200)
            #expect(metadata.body.contains(#"{"datatype":"FP32","name":"EMBEDDING","shape":[-1,16]}"#), "\(metadata.body)")
            #expect(metadata.body.contains(#"{"datatype":"FP32","name":"LOGITS","shape":[-1,7]}"#))
            #expect(try test.get(path + "/ready").status == 200)
        }
        #expect(try test.get("/v1/models/r2plus1d_18").body == #"{"name":"r2plus1d_18","ready":true}"#)
        // The KServe SDK reads these booleans; the rest of the health answers stays as it was.
        #expect(try test.get("/v2/health/ready").body.hasSuffix(#""status":"ready","ready":true}"#))
        #expect(try test.get("/v2/health/live").body.hasSuffix(#""status":"ok","live":true}"#))
        #expect(try !test.get("/readyz").body.contains(#""ready":"#))
        // Another model or version is a 404 the clients can read.
        for path in ["/v2/models/resnet50", "/v2/models/r2plus1d_18/versions/2/infer", "/v1/models/other:predict"] {
            let missing = try test.get(path)
            #expect(missing.status == 404 && missing.headers["content-type"] == "application/json", "\(path)")
            #expect(missing.body.hasPrefix(#"{"error":"no model at "#))
        }
    }

    @Test func videoInferenceAgreesWithClassify() throws {
        let test = try TestService()
        defer { #expect(test.stop()) }
        let video = try Self.video()
        let classify = try ClassifyAnswer(test.post("/classify?clips=2&top_k=7", body: video, contentType: "video/mp4").body)
        let (body, length) = Self.binaryVideoRequest(video, parameters: #"{"clips":2}"#)
        let response = try Self.post(test, "/v2/models/r2plus1d_18/infer", body: body, headers: ["Inference-Header-Content-Length: \(length)"])
        #expect(response.status == 200, "\(response.body)")
        #expect(response.headers["content-type"] == "application/json")
        let outputs = try Self.outputs(response.body)
        #expect(outputs["LOGITS"]?.shape == [2, 7] && outputs["EMBEDDING"]?.shape == [2, 16] && outputs["PROBS"]?.shape == [7])
        let probabilities = try #require(outputs["PROBS"]?.data as? [Double])
        for prediction in classify.predictions { #expect(abs(probabilities[prediction.index] - prediction.score) < 1e-5) }
        // The pooled features are non-negative (they follow a ReLU) and not all zero.
        let embedding = try #require(outputs["EMBEDDING"]?.data as? [Double])
        #expect(embedding.allSatisfy { $0 >= 0 } && embedding.contains { $0 > 0 })

        let v1 = try Self.post(test, "/v1/models/r2plus1d_18:predict",
                               body: Data(#"{"instances":[{"video":{"b64":"\#(video.base64EncodedString())"},"clips":2,"top_k":7}]}"#.utf8))
        #expect(v1.status == 200, "\(v1.body)")
        let predictions = try #require((try JSONSerialization.jsonObject(with: Data(v1.body.utf8)) as? [String: Any])?["predictions"] as? [[[String: Any]]])
        #expect(predictions.count == 1)
        for (got, want) in zip(predictions[0], classify.predictions) {
            #expect(got["index"] as? Int == want.index)
            #expect(abs((got["score"] as? Double ?? -1) - want.score) < 1e-5)
        }
    }

    /// Preprocessed clips sent as binary FP32, two requests at once so their clips share forward passes: each
    /// answer's LOGITS and EMBEDDING are its own clips' rows, equal to the engine's own forward on those clips.
    @Test func clipsInferenceCarriesEachClipsEmbeddingThroughTheBatch() throws {
        let test = try TestService { $0.batching.maxDelaySeconds = 0.2 }
        defer { #expect(test.stop()) }
        let network = try R2Plus1D18(weights: WeightFile.read(path: TestService.files.weights))
        let clipSize = 3 * 16 * 112 * 112
        var generator = SystemRandomNumberGenerator()
        let requests = [2, 1].map { count in (0..<count * clipSize).map { _ in Float.random(in: -2...2, using: &generator) } }
        let answers = Mutex([(status: Int, headers: [String: String], body: String)?](repeating: nil, count: requests.count))
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            let values = requests[index], count = values.count / clipSize
            let json = #"{"inputs":[{"name":"CLIPS","datatype":"FP32","shape":[\#(count),3,16,112,112],"parameters":{"binary_data_size":\#(values.count * 4)}}],"outputs":[{"name":"LOGITS"},{"name":"EMBEDDING"}]}"#
            var body = Data(json.utf8)
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
            let answer = try? Self.post(test, "/v2/models/r2plus1d_18/infer", body: body,
                                        headers: ["Inference-Header-Content-Length: \(json.utf8.count)"])
            answers.withLock { $0[index] = answer }
        }
        for (values, answer) in zip(requests, answers.withLock { $0 }) {
            let response = try #require(answer)
            #expect(response.status == 200, "\(response.body)")
            let count = values.count / clipSize
            let expected = network.forwardWithFeatures(Tensor(shape: [count, 3, 16, 112, 112], data: values))
            let outputs = try Self.outputs(response.body)
            #expect(outputs["EMBEDDING"]?.shape == [count, 16] && outputs["LOGITS"]?.shape == [count, 7])
            let embedding = try #require(outputs["EMBEDDING"]?.data as? [Double]).map(Float.init)
            let logits = try #require(outputs["LOGITS"]?.data as? [Double]).map(Float.init)
            #expect(Tensor(shape: [count, 16], data: embedding).maxAbsDifference(expected.features) <= 1e-4)
            #expect(Tensor(shape: [count, 7], data: logits).maxAbsDifference(expected.logits) <= 1e-4)
        }
    }

    @Test func aTimelineIsTheTimelineOutputAndEqualsClassifys() throws {
        let video = try TestVideos.h264(seconds: 6, gop: 30)
        let test = try TestService()
        defer { #expect(test.stop()) }
        let request = Self.binaryVideoRequest(video, parameters: #"{"timeline":true,"stride_s":0.5,"window_s":1,"top_k":3}"#)
        let response = try Self.post(test, "/v2/models/r2plus1d_18/infer", body: request.body,
                                     headers: ["Inference-Header-Content-Length: \(request.headerLength)"])
        #expect(response.status == 200, "\(response.body)")
        let output = try #require(try Self.outputs(response.body)["TIMELINE"])
        #expect(output.shape == [1])
        let viaKServe = try TimelineAnswer(try #require(output.data.first as? String))
        let direct = try TimelineAnswer(test.post("/v1/classify?timeline=1&stride_s=0.5&window_s=1&top_k=3", body: video,
                                                  contentType: "video/mp4").body)
        #expect(viaKServe.timeline.count == 12 && viaKServe.timeline.count == direct.timeline.count)
        for (a, b) in zip(viaKServe.timeline, direct.timeline) {
            #expect(a.predictions.map(\.index) == b.predictions.map(\.index) && a.start_s == b.start_s)
            #expect(zip(a.predictions, b.predictions).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        }
        #expect(viaKServe.segments.map(\.index) == direct.segments.map(\.index))
        // The timeline's one output is TIMELINE, which needs the parameter and a video.
        for (parameters, outputs, words) in [(#"{"timeline":true}"#, #","outputs":[{"name":"LOGITS"}]"#, "the one output is TIMELINE"),
                                             (#"{"timeline":false}"#, #","outputs":[{"name":"TIMELINE"}]"#, "needs parameters.timeline"),
                                             (#"{"timeline":true,"stride_s":0.01}"#, "", "stride_s")] {
            let json = #"{"inputs":[{"name":"VIDEO","datatype":"BYTES","shape":[1],"data":["\#(video.base64EncodedString())"]}],"parameters":\#(parameters)\#(outputs)}"#
            let refused = try Self.post(test, "/v2/models/r2plus1d_18/infer", body: Data(json.utf8))
            #expect(refused.status == 400 && refused.body.contains(words), "\(refused.body)")
        }
    }

    @Test func errorsAreJSONWithAnErrorField() throws {
        let test = try TestService()
        defer { #expect(test.stop()) }
        let bad = try Self.post(test, "/v2/models/r2plus1d_18/infer",
                                body: Data(#"{"inputs":[{"name":"AUDIO","datatype":"FP32","shape":[1],"data":[1]}]}"#.utf8))
        #expect(bad.status == 400 && bad.headers["content-type"] == "application/json")
        #expect(bad.body.hasPrefix(#"{"error":"unknown input 'AUDIO'"#), "\(bad.body)")
        let notVideo = Self.binaryVideoRequest(Data("not a video at all".utf8), parameters: "{}")
        let undecodable = try Self.post(test, "/v2/models/r2plus1d_18/infer", body: notVideo.body,
                                        headers: ["Inference-Header-Content-Length: \(notVideo.headerLength)"])
        #expect((400..<500).contains(undecodable.status) && undecodable.body.hasPrefix(#"{"error":"#), "\(undecodable.body)")
        // A timeout of one microsecond is past before the forward pass can start.
        let (body, length) = Self.binaryVideoRequest(try Self.video(), parameters: #"{"timeout":1}"#)
        let late = try Self.post(test, "/v2/models/r2plus1d_18/infer", body: body, headers: ["Inference-Header-Content-Length: \(length)"])
        #expect(late.status == 504 && late.body.hasPrefix(#"{"error":"#), "\(late.body)")
    }
}
