import Foundation
import HTTPServer
import Service
import TestSupport
import Testing

/// Every endpoint and every error status, end to end over loopback with clips made by ffmpeg.
@Suite(.serialized) struct ServiceEndpointTests {
    static func video() throws -> Data { try TestVideos.h264(seconds: 3, gop: 30) }

    @Test func healthLabelsModelAndMetrics() throws {
        let test = try TestService()
        for path in ["/healthz", "/v2/health/live", "/readyz", "/v2/health/ready"] {
            let response = try test.get(path)
            #expect(response.status == 200, "\(path)")
            #expect(response.body.contains("\"model\":\"narrow.safetensors\""))
        }
        let labels = try JSONDecoder().decode([String].self, from: Data(test.get("/v1/labels").body.utf8))
        #expect(labels == (0..<7).map { "action \($0)" })
        #expect(try test.get("/labels?format=text").body == labels.joined(separator: "\n") + "\n")
        let model = try test.get("/v1/model")
        #expect(model.status == 200 && model.body.contains("\"classes\":7") && model.body.contains("\"demo\":false"))
        #expect(model.body.contains("\"max_batch\":8") && model.body.contains("\"state\":\"ready\""))
        let sha = try #require(try run("sha256sum", [TestService.files.weights]).output.split(separator: " ").first)
        #expect(model.body.contains("\"sha256\":\"\(sha)\""))
        let metrics = try test.get("/metrics")
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        for name in ["r2plus1d_http_requests_total{method=\"GET\",route=\"/v1/model\",status=\"200\"} 1", "r2plus1d_ready 1",
                     "# TYPE r2plus1d_batch_size histogram", "# TYPE r2plus1d_queue_depth_clips gauge", "r2plus1d_model_info{"] {
            #expect(metrics.body.contains(name), "\(name)")
        }
        #expect(test.stop())
    }

    @Test func classifiesMultipartAndRawUploads() throws {
        let test = try TestService()
        let video = try Self.video()
        let file = TestVideos.directory.appendingPathComponent("h264_3s_gop30.mp4").path
        let curl = try run("curl", ["-sS", "-F", "video=@\(file)", "http://127.0.0.1:\(test.port)/classify?top_k=3&clips=2"])
        let answer = try ClassifyAnswer(curl.output)
        #expect(answer.predictions.count == 3)
        #expect(zip(answer.predictions, answer.predictions.dropFirst()).allSatisfy { $0.score >= $1.score })
        #expect(answer.predictions.allSatisfy { $0.label == "action \($0.index)" && $0.score > 0 && $0.score <= 1 })
        #expect(answer.clips.count == 2 && answer.clips[0].start_s == 0 && abs(answer.clips[1].end_s - 3) < 1e-9)
        #expect(answer.video.codec == "h264" && answer.video.width == 320 && answer.video.height == 240 && answer.video.duration_s == 3)
        #expect(answer.model.name == "r2plus1d_18" && answer.model.weights == "narrow.safetensors" && answer.model.sha256?.count == 64)
        #expect(answer.timing_ms.total >= answer.timing_ms.decode && answer.timing_ms.inference > 0)
        // The same video as a raw body, and through the /v1 path: the same answer.
        let raw = try ClassifyAnswer(test.post("/v1/classify?top_k=3&clips=2", body: video, contentType: "video/mp4").body)
        #expect(raw.predictions == answer.predictions)
        let octets = try test.post("/classify", body: video, contentType: "application/octet-stream")
        #expect(octets.status == 200)
        #expect(try ClassifyAnswer(octets.body).predictions.count == 5)
        #expect(test.stop())
    }

    /// What common clients send: no Content-Type at all (Python requests' `data=`, curl -T, Node's fetch with a
    /// Buffer), which RFC 9110 lets a server take as application/octet-stream; the form type that `curl
    /// --data-binary @clip.mp4` and Ruby's `Net::HTTP.post` put on a raw body; and the registered types of the
    /// accepted containers that are not video/* (MP4's application/mp4, Ogg's application/ogg, MXF's application/mxf,
    /// GIF's image/gif).
    @Test func uploadsWithoutAVideoTypeAreAccepted() throws {
        let test = try TestService()
        let video = try Self.video()
        let client = try RawClient(port: test.port, receiveTimeout: 60)
        client.send("POST /classify?top_k=2 HTTP/1.1\r\nHost: t\r\nContent-Length: \(video.count)\r\n\r\n")
        client.send([UInt8](video))
        let untyped = try #require(client.response())
        #expect(untyped.status == 200, "\(untyped.body)")
        #expect(try ClassifyAnswer(untyped.body).predictions.count == 2)
        #expect(try test.post("/classify", body: video, contentType: "application/mp4").status == 200)
        #expect(try test.post("/v1/classify", body: video, contentType: "Application/MP4; charset=binary").status == 200)
        let gif = try TestVideos.make("service.gif", TestVideos.lavfi("testsrc2=size=160x120:rate=10") + ["-t", "1.2"])
        #expect(try test.post("/classify", body: gif, contentType: "image/gif").status == 200)
        let ogg = try TestVideos.make("service.ogv", TestVideos.lavfi("testsrc2=size=160x120:rate=10") + ["-t", "1.2", "-c:v", "libtheora"])
        #expect(try test.post("/classify", body: ogg, contentType: "application/ogg").status == 200)
        let mxf = try TestVideos.make("service.mxf", TestVideos.lavfi("testsrc2=size=160x120:rate=25")
            + ["-t", "1.2", "-c:v", "mpeg2video", "-bf", "2"])
        #expect(try test.post("/classify", body: mxf, contentType: "application/mxf").status == 200)
        // Still refused: types that say the body is something else.
        let file = TestVideos.directory.appendingPathComponent("h264_3s_gop30.mp4").path
        let curl = try run("curl", ["-sS", "--data-binary", "@\(file)", "http://127.0.0.1:\(test.port)/classify?top_k=2"]).output
        #expect((try? ClassifyAnswer(curl))?.predictions.count == 2, "\(curl)")
        #expect(try test.post("/classify", body: Data("top_k=2&clips=1".utf8), contentType: "application/x-www-form-urlencoded").status == 415)
        for type in ["application/json", "text/plain", "image/png"] {
            #expect(try test.post("/classify", body: video, contentType: type).status == 415, "\(type)")
        }
        #expect(test.stop())
    }

    /// A body sent with Content-Encoding (by a client that compresses what it sends, as tritonclient can) is
    /// decoded before it is read as a video or a form, as the KServe routes do; a coding the server lacks is a
    /// 415 that names it (RFC 9110 section 15.5.16), a broken stream a 400.
    @Test func codedUploadsAreDecoded() throws {
        let test = try TestService()
        let video = try Self.video()
        let plain = try test.post("/classify?top_k=3", body: video, contentType: "video/mp4")
        #expect(plain.status == 200, "\(plain.body)")
        let expected = try ClassifyAnswer(plain.body).predictions
        for coding in ContentCoding.allCases {
            let coded = try coding.encode(video)
            let answer = try test.post("/classify?top_k=3", body: coded, contentType: "video/mp4",
                                       headers: ["Content-Encoding: \(coding.rawValue)"])
            #expect(answer.status == 200, "\(coding): \(answer.body)")
            #expect(try ClassifyAnswer(answer.body).predictions == expected, "\(coding)")
        }
        let boundary = "coded-form-boundary"
        let form = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"top_k\"\r\n\r\n3\r\n--\(boundary)\r\n".utf8)
            + Data("Content-Disposition: form-data; name=\"video\"; filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n".utf8)
            + video + Data("\r\n--\(boundary)--\r\n".utf8)
        let formAnswer = try test.post("/classify", body: try ContentCoding.gzip.encode(form),
                                       contentType: "multipart/form-data; boundary=\(boundary)", headers: ["Content-Encoding: gzip"])
        #expect(formAnswer.status == 200, "\(formAnswer.body)")
        #expect(try ClassifyAnswer(formAnswer.body).predictions == expected)
        let brotli = try test.post("/classify", body: video, contentType: "video/mp4", headers: ["Content-Encoding: br"])
        #expect(brotli.status == 415 && brotli.body.contains("br"), "\(brotli.body)")
        let broken = try test.post("/classify", body: video, contentType: "video/mp4", headers: ["Content-Encoding: gzip"])
        #expect(broken.status == 400, "\(broken.body)")
        let job = try test.post("/v1/jobs", body: try ContentCoding.deflate.encode(video), contentType: "video/mp4",
                                headers: ["Content-Encoding: deflate"])
        #expect(job.status == 202, "\(job.body)")
        let done = try JobsEndpointTests.waitFor(test.port, JobsEndpointTests.Job(job.body).id) { $0.state != "queued" && $0.state != "running" }
        #expect(done.state == "done", "\(done.error ?? "")")
        #expect(test.stop())
    }

    /// An HTML form has no query string of its own: its text fields carry the options, as the query does.
    @Test func formFieldsCarryTheOptions() throws {
        let test = try TestService()
        _ = try Self.video()
        let file = TestVideos.directory.appendingPathComponent("h264_3s_gop30.mp4").path
        let url = "http://127.0.0.1:\(test.port)"
        func post(_ path: String, _ fields: [String]) throws -> (status: String, body: String) {
            let arguments = ["-sS", "-w", "\n%{http_code}", "-F", "video=@\(file)"] + fields.flatMap { ["-F", $0] } + [url + path]
            let output = try run("curl", arguments).output
            let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"))
        }
        let fromForm = try post("/classify", ["top_k=3", "clips=2"])
        #expect(fromForm.status == "200", "\(fromForm.body)")
        let answer = try ClassifyAnswer(fromForm.body)
        #expect(answer.predictions.count == 3 && answer.clips.count == 2)
        let fromQuery = try ClassifyAnswer(post("/classify?top_k=3&clips=2", []).body)
        #expect(fromQuery.predictions == answer.predictions)
        // Fields placed before the file, a range, and the same value in both places are all fine.
        let range = try post("/v1/classify?top_k=2", ["top_k=2", "start_s=1", "end_s=2"])
        #expect(range.status == "200", "\(range.body)")
        let ranged = try ClassifyAnswer(range.body)
        #expect(ranged.predictions.count == 2 && ranged.clips.count == 1 && ranged.clips[0].start_s == 1)
        // A bad value, or two different values for one option, is refused as a query's would be.
        for (path, fields) in [("/classify", ["top_k=0"]), ("/classify", ["clips=two"]), ("/classify?top_k=2", ["top_k=3"]),
                               ("/classify", ["top_k=2", "top_k=3"]), ("/classify", ["timeline=maybe"]),
                               ("/v1/jobs", ["window_s=-1"])] {
            let refused = try post(path, fields)
            #expect(refused.status == "400", "\(path) \(fields): \(refused.body)")
        }
        #expect(try post("/classify", ["top_k=2", "top_k=3"]).body.contains("top_k"))
        // A form whose one file has a name of its own.
        let named = try run("curl", ["-sS", "-F", "upload=@\(file)", "-F", "top_k=2", url + "/classify"]).output
        #expect(try ClassifyAnswer(named).predictions.count == 2, "\(named)")
        let two = try run("curl", ["-sS", "-w", "\n%{http_code}", "-F", "a=@\(file)", "-F", "b=@\(file)", url + "/classify"]).output
        #expect(two.hasSuffix("\n400"), "\(two)")
        // Beside an HTML form's file input left empty (filename="", no bytes).
        let emptyInput = try run("curl", ["-sS", "-F", "upload=@\(file)", "-F", "other=;filename=", url + "/classify"]).output
        #expect((try? ClassifyAnswer(emptyInput)) != nil, "\(emptyInput)")
        // Names the service does not read may repeat, as a form's checkboxes or a tracker's query do.
        let repeated = try post("/classify?utm=a&utm=b", ["pick=1", "pick=2", "top_k=2"])
        #expect(repeated.status == "200", "\(repeated.body)")
        #expect(try post("/classify", ["top_k=\(String(repeating: "1", count: 300))"]).status == "400")
        // A timeline asked for by the form.
        let timeline = try post("/v1/classify", ["timeline=1", "window_s=1", "stride_s=1", "top_k=1"])
        #expect(timeline.status == "200" && timeline.body.contains("\"timeline\":[{"), "\(timeline.body)")
        #expect(test.stop())
    }

    @Test func everyErrorStatus() throws {
        let test = try TestService {
            $0.http.limits.maxBodyBytes = 2 << 20
            $0.decodeLimits.maxDimension = 300
        }
        let video = try TestVideos.make("small.mp4", TestVideos.lavfi("testsrc2=size=160x120:rate=15") + ["-t", "2", "-c:v", "libx264"])
        func status(_ path: String, _ body: Data, _ type: String) throws -> (Int, String?) {
            let r = try test.post(path, body: body, contentType: type)
            if r.status != 200 { #expect(r.headers["content-type"] == "application/problem+json", "\(r.status) \(r.body)") }
            return (r.status, r.headers["retry-after"])
        }
        #expect(try status("/classify?top_k=0", video, "video/mp4").0 == 400)
        #expect(try status("/classify?top_k=8", video, "video/mp4").0 == 400)
        #expect(try status("/classify?clips=11", video, "video/mp4").0 == 400)
        #expect(try status("/classify?clips=two", video, "video/mp4").0 == 400)
        #expect(try status("/classify", Data(), "video/mp4").0 == 400)
        #expect(try status("/classify", Data("--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--".utf8),
                           "multipart/form-data; boundary=b").0 == 400)
        #expect(try status("/classify", Data("--b\r\ngarbage".utf8), "multipart/form-data; boundary=b").0 == 400)
        // A video field present but empty is refused even when another field holds bytes (the schema's minLength).
        let emptyVideoField = Data(("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n0\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"video\"; filename=\"v\"\r\n\r\n\r\n--b--\r\n").utf8)
        for path in ["/classify", "/v1/jobs"] {
            #expect(try status(path, emptyVideoField, "multipart/form-data; boundary=b").0 == 400, "\(path)")
        }
        #expect(try status("/classify", video, "multipart/form-data").0 == 400)
        #expect(try status("/classify", video, "application/json").0 == 415)
        #expect(try status("/classify", Data("just text, not a video".utf8), "video/mp4").0 == 415)
        let audio = try TestVideos.make("service-audio.m4a", TestVideos.lavfi("sine=frequency=440") + ["-t", "1", "-c:a", "aac"])
        #expect(try status("/classify", audio, "video/mp4").0 == 422)
        let large = try TestVideos.make("large.mp4", TestVideos.lavfi("testsrc2=size=640x480:rate=15") + ["-t", "1", "-c:v", "libx264"])
        #expect(try status("/classify", large, "video/mp4").0 == 422)
        #expect(try status("/classify", Data(count: 3 << 20), "video/mp4").0 == 413)
        #expect(try test.get("/nothing-here").status == 404)
        let wrongMethod = try test.get("/classify")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST")
        #expect(test.stop())
    }

    @Test func fullQueueGives503WithRetryAfter() throws {
        let test = try TestService { $0.batching.queueCapacity = 1 }
        let response = try test.post("/classify?clips=2", body: Self.video(), contentType: "video/mp4")
        #expect(response.status == 503 && response.headers["retry-after"] == "1")
        #expect(try test.post("/classify?clips=1", body: Self.video(), contentType: "video/mp4").status == 200)
        #expect(test.stop())
    }

    @Test func passedDeadlineGives504AndCostsNoCompute() throws {
        let test = try TestService {
            $0.requestTimeoutSeconds = 0.001
            $0.batching.maxDelaySeconds = 0.5
        }
        let computed = try test.metric("r2plus1d_clips_computed_total")
        let response = try test.post("/classify?clips=3", body: Self.video(), contentType: "video/mp4")
        #expect(response.status == 504)
        Thread.sleep(forTimeInterval: 0.7)
        #expect(try test.metric("r2plus1d_clips_computed_total") == computed)
        #expect(try test.metric("r2plus1d_clips_dropped_total{reason=\"deadline\"}") == 3)
        #expect(test.stop())
    }
}
