import Foundation
import VideoDecode

/// The model as the Open Inference Protocol v2 sees it: its inputs and outputs, which input a request carries,
/// and each output built from the forward pass.
///
/// Inputs: VIDEO (BYTES [1], an encoded video decoded and sampled in the server) or CLIPS (FP32 [N,3,16,112,112],
/// already preprocessed). Outputs: LOGITS [N,classes], PROBS [classes] (softmax averaged over the clips, as
/// /classify computes it) and EMBEDDING [N,features] (the pooled features before `fc`); with
/// `parameters.timeline`, TIMELINE instead: BYTES [1], the JSON answer of `/v1/classify?timeline=1`.
struct InferenceModel: Sendable {
    static let name = "r2plus1d_18"
    static let version = "1"
    static let platform = "swift_r2plus1d"
    static let outputNames = ["LOGITS", "PROBS", "EMBEDDING"]
    static let timelineOutput = "TIMELINE"

    let classes: Int
    let features: Int
    let labels: Labels
    let maxClips: Int

    /// What a request asks the network to run on.
    enum Source: Equatable {
        case video(Data, clips: Int)
        case clips([Float], count: Int)
    }

    /// - Throws: `ServiceError.badParameter` when the inputs are not exactly one VIDEO or one CLIPS of the right shape.
    func source(of request: InferenceRequest) throws -> Source {
        guard request.inputs.count == 1, let input = request.inputs.first else {
            throw ServiceError.badParameter("send exactly one input, VIDEO or CLIPS; got \(request.inputs.count)")
        }
        let clip = ClipSpec.kinetics.shape
        switch (input.name, input.values) {
        case ("VIDEO", .bytes(let items)):
            guard input.shape == [1], var video = items.first else {
                throw ServiceError.badParameter("VIDEO has shape [1] (one encoded video), got \(input.shape)")
            }
            if !input.binary {
                // JSON strings cannot carry a video's raw bytes.
                guard let decoded = Data(base64Encoded: video, options: .ignoreUnknownCharacters), !decoded.isEmpty else {
                    throw ServiceError.malformedBody("VIDEO in JSON is the base64 of the video; or send it as binary data")
                }
                video = decoded
            }
            let clips = request.clips ?? 1
            guard (1...maxClips).contains(clips) else {
                throw ServiceError.badParameter("parameters.clips must be an integer from 1 to \(maxClips), got \(clips)")
            }
            return .video(video, clips: clips)
        case ("CLIPS", .fp32(let values)):
            guard input.shape.count == 5, Array(input.shape.dropFirst()) == clip, (1...maxClips).contains(input.shape[0]) else {
                throw ServiceError.badParameter("CLIPS has shape [N,\(clip.map(String.init).joined(separator: ","))] with N from 1 to \(maxClips), got \(input.shape)")
            }
            guard values.allSatisfy(\.isFinite) else { throw ServiceError.badParameter("CLIPS holds a value that is not finite") }
            return .clips(values, count: input.shape[0])
        case ("VIDEO", _), ("CLIPS", _):
            throw ServiceError.badParameter("VIDEO is BYTES and CLIPS is FP32; \(input.name) came as \(input.datatype.rawValue)")
        default:
            throw ServiceError.badParameter("unknown input '\(input.name.prefix(40))'; this model takes VIDEO (BYTES [1]) or CLIPS (FP32 [N,3,16,112,112])")
        }
    }

    /// Checks the requested outputs before any work is done.
    /// - Throws: `ServiceError.badParameter` for an unknown output or a bad classification count.
    func validate(_ request: InferenceRequest) throws {
        if let topK = request.topK, !(1...classes).contains(topK) {
            throw ServiceError.badParameter("parameters.top_k must be an integer from 1 to \(classes), got \(topK)")
        }
        if request.timeline != nil {
            guard request.outputs.allSatisfy({ $0.name == Self.timelineOutput && $0.classification == nil }) else {
                throw ServiceError.badParameter("with parameters.timeline the one output is \(Self.timelineOutput)")
            }
            return
        }
        for output in request.outputs {
            guard output.name != Self.timelineOutput else {
                throw ServiceError.badParameter("\(Self.timelineOutput) needs parameters.timeline: true")
            }
            guard Self.outputNames.contains(output.name) else {
                throw ServiceError.badParameter("unknown output '\(output.name.prefix(40))'; this model has \(Self.outputNames.joined(separator: ", "))")
            }
            guard let k = output.classification else { continue }
            guard output.name != "EMBEDDING" else { throw ServiceError.badParameter("EMBEDDING has no classes to classify") }
            guard (1...classes).contains(k) else {
                throw ServiceError.badParameter("\(output.name)'s classification must be from 1 to \(classes), got \(k)")
            }
        }
    }

    /// The outputs the request asked for (all of them when it named none), from each clip's logits and
    /// embedding. `top_k` makes PROBS a classification of that many classes unless it names its own.
    func outputs(for request: InferenceRequest, logits: [[Float]], embeddings: [[Float]]) -> [InferenceResponse.Output] {
        let asked = request.outputs.isEmpty
            ? Self.outputNames.map { InferenceRequest.Output(name: $0, binary: nil, classification: $0 == "PROBS" ? request.topK : nil) }
            : request.outputs
        let n = logits.count
        return asked.map { output in
            let binary = output.binary ?? request.binaryDataOutput
            switch output.name {
            case "LOGITS":
                if let k = output.classification {
                    return classification(name: output.name, rows: logits, k: k, shape: [n, k], binary: binary)
                }
                return .init(name: output.name, datatype: .fp32, shape: [n, classes], values: .fp32(logits.flatMap { $0 }), binary: binary)
            case "PROBS":
                let probabilities = Self.meanSoftmax(logits)
                if let k = output.classification ?? (request.outputs.isEmpty ? nil : request.topK) {
                    return classification(name: output.name, rows: [probabilities], k: k, shape: [k], binary: binary)
                }
                return .init(name: output.name, datatype: .fp32, shape: [classes], values: .fp32(probabilities), binary: binary)
            default:
                let width = embeddings.first?.count ?? features
                return .init(name: output.name, datatype: .fp32, shape: [n, width], values: .fp32(embeddings.flatMap { $0 }), binary: binary)
            }
        }
    }

    /// A timeline's answer as the TIMELINE output: the same JSON `/v1/classify?timeline=1` answers.
    func timelineOutput(for request: InferenceRequest, answer: Classification) -> InferenceResponse.Output {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(answer)) ?? Data("{}".utf8)
        return .init(name: Self.timelineOutput, datatype: .bytes, shape: [1], values: .bytes([json]),
                     binary: request.outputs.first?.binary ?? request.binaryDataOutput)
    }

    /// Softmax of each clip's logits, averaged over the clips, in Double as `Classification` computes it.
    static func meanSoftmax(_ logits: [[Float]]) -> [Float] {
        guard let classes = logits.first?.count else { return [] }
        var mean = [Double](repeating: 0, count: classes)
        for clip in logits {
            for (i, p) in Classification.softmax(clip).enumerated() { mean[i] += p / Double(logits.count) }
        }
        return mean.map(Float.init)
    }

    /// The classification extension: each row's top `k` as `"<value>:<index>:<label>"`, highest first, ties
    /// to the lower index.
    private func classification(name: String, rows: [[Float]], k: Int, shape: [Int], binary: Bool) -> InferenceResponse.Output {
        let items = rows.flatMap { row in
            row.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                .prefix(k)
                .map { Data("\($0.element):\($0.offset):\($0.offset < labels.names.count ? labels.names[$0.offset] : "class \($0.offset)")".utf8) }
        }
        return .init(name: name, datatype: .bytes, shape: shape, values: .bytes(items), binary: binary)
    }

    /// `GET /v2/models/<name>`.
    var metadata: Metadata {
        let clip = ClipSpec.kinetics.shape
        return Metadata(name: Self.name, versions: [Self.version], platform: Self.platform,
                        inputs: [.init(name: "VIDEO", datatype: "BYTES", shape: [1]),
                                 .init(name: "CLIPS", datatype: "FP32", shape: [-1] + clip)],
                        outputs: [.init(name: "LOGITS", datatype: "FP32", shape: [-1, classes]),
                                  .init(name: "PROBS", datatype: "FP32", shape: [classes]),
                                  .init(name: "EMBEDDING", datatype: "FP32", shape: [-1, features]),
                                  .init(name: Self.timelineOutput, datatype: "BYTES", shape: [1])])
    }

    struct Metadata: Encodable {
        struct Tensor: Encodable {
            var name: String
            var datatype: String
            var shape: [Int]
        }

        var name: String
        var versions: [String]
        var platform: String
        var inputs: [Tensor]
        var outputs: [Tensor]
    }
}
