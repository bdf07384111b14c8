import Foundation
import HTTPServer

/// An Open Inference Protocol v2 `infer` request, parsed from its body.
///
/// Body layout: a JSON object, optionally followed by raw tensors (the binary tensor data extension). With
/// binary data, the `Inference-Header-Content-Length` header gives the JSON's byte length; each input sent in
/// binary has `parameters.binary_data_size`, and its bytes follow the JSON in the order the inputs are listed.
/// In binary, FP32 is little-endian; a BYTES element is a 4-byte little-endian length and then that many bytes.
/// In JSON, FP32 is a flat or nested array of numbers and a BYTES element a string (a video: base64, as JSON
/// cannot carry raw bytes).
struct InferenceRequest {
    enum Datatype: String, Sendable {
        case bytes = "BYTES", fp32 = "FP32"
    }

    enum Values: Equatable {
        case bytes([Data])
        case fp32([Float])
    }

    struct Input: Equatable {
        var name: String
        var datatype: Datatype
        var shape: [Int]
        var values: Values
        /// Sent after the JSON rather than in it.
        var binary = false
    }

    /// An output the client asked for, and how.
    struct Output: Equatable {
        var name: String
        /// nil: as `binary_data_output` says.
        var binary: Bool?
        /// The classification extension: the top K as `"<value>:<index>:<label>"` strings.
        var classification: Int?
    }

    var id: String?
    var inputs: [Input]
    /// Empty: every output the model has.
    var outputs: [Output]
    var binaryDataOutput = false
    /// The `timeout` parameter, microseconds.
    var timeoutMicroseconds: Int?
    var topK: Int?
    var clips: Int?
    /// `parameters.timeline`: what happens when, with the timeline options of `/v1/classify` as parameters.
    var timeline: TimelineOptions?

    /// - Parameters:
    ///   - headerLength: `Inference-Header-Content-Length`; nil when the whole body is JSON.
    ///   - context: the request's, which holds the parsed JSON against the server's body budget (`JSONBody`).
    /// - Throws: `ServiceError.malformedBody` or `.badParameter`, saying which input or field is wrong; 413 or 503
    ///   for JSON with too many values (`JSONBody`).
    init(body: Data, headerLength: Int?, context: RequestContext? = nil) throws {
        let jsonLength = headerLength ?? body.count
        guard jsonLength >= 0, jsonLength <= body.count else {
            throw ServiceError.malformedBody("Inference-Header-Content-Length is \(jsonLength) but the body has \(body.count) bytes")
        }
        let start = body.startIndex
        let object = try JSONBody.parse(body[start..<start + jsonLength], context: context, what: "the inference request",
                                        hint: headerLength == nil && body.contains(0) ? "; with binary tensors, give Inference-Header-Content-Length" : "")
        guard let json = object as? [String: Any] else { throw ServiceError.malformedBody("the inference request must be a JSON object") }
        id = try Self.optional(json["id"], String.self, "id")
        let parameters = try Self.optional(json["parameters"], [String: Any].self, "parameters") ?? [:]
        binaryDataOutput = try Self.optional(parameters["binary_data_output"], Bool.self, "parameters.binary_data_output") ?? false
        timeoutMicroseconds = try Self.integer(parameters["timeout"], "parameters.timeout")
        topK = try Self.integer(parameters["top_k"], "parameters.top_k")
        clips = try Self.integer(parameters["clips"], "parameters.clips")
        timeline = try Self.timelineOptions(parameters)

        guard let rawInputs = json["inputs"] as? [Any], !rawInputs.isEmpty else {
            throw ServiceError.malformedBody("the inference request needs a non-empty 'inputs' array")
        }
        var tail = body[(start + jsonLength)...]
        inputs = try rawInputs.enumerated().map { index, raw in try Self.input(raw, index: index, tail: &tail) }
        guard tail.isEmpty else {
            throw ServiceError.malformedBody("\(tail.count) bytes follow the inputs' binary data; binary_data_size must account for every byte")
        }
        outputs = try (Self.optional(json["outputs"], [Any].self, "outputs") ?? []).enumerated().map { index, raw in
            guard let output = raw as? [String: Any], let name = output["name"] as? String else {
                throw ServiceError.malformedBody("outputs[\(index)] needs a 'name'")
            }
            let parameters = try Self.optional(output["parameters"], [String: Any].self, "outputs[\(index)].parameters") ?? [:]
            return Output(name: name,
                          binary: try Self.optional(parameters["binary_data"], Bool.self, "\(name).parameters.binary_data"),
                          classification: try Self.integer(parameters["classification"], "\(name).parameters.classification"))
        }
    }

    private static func input(_ raw: Any, index: Int, tail: inout Data) throws -> Input {
        guard let input = raw as? [String: Any], let name = input["name"] as? String else {
            throw ServiceError.malformedBody("inputs[\(index)] needs a 'name'")
        }
        guard let typeName = input["datatype"] as? String else { throw ServiceError.malformedBody("input \(name) needs a 'datatype'") }
        guard let datatype = Datatype(rawValue: typeName) else {
            throw ServiceError.badParameter("input \(name) has datatype \(typeName.prefix(20)); this model takes BYTES (VIDEO) or FP32 (CLIPS)")
        }
        guard let shapeValues = input["shape"] as? [Any], let shape = try? shapeValues.map({ try integer($0, "shape")! }),
              shape.allSatisfy({ $0 >= 0 }) else {
            throw ServiceError.malformedBody("input \(name) needs a 'shape' of non-negative integers")
        }
        let (elements, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, elements <= 1 << 30 else { throw ServiceError.badParameter("input \(name) has too many elements for its shape \(shape)") }
        let parameters = try optional(input["parameters"], [String: Any].self, "\(name).parameters") ?? [:]
        let values: Values
        let binary = parameters["binary_data_size"] != nil
        if let size = try integer(parameters["binary_data_size"], "\(name).parameters.binary_data_size") {
            guard size >= 0, size <= tail.count else {
                throw ServiceError.malformedBody("input \(name) has binary_data_size \(size) but only \(tail.count) bytes follow")
            }
            let bytes = tail.prefix(size)
            tail = tail.dropFirst(size)
            values = try binaryValues(bytes, datatype: datatype, elements: elements, name: name)
        } else {
            guard let data = input["data"] else { throw ServiceError.malformedBody("input \(name) has neither 'data' nor binary_data_size") }
            values = try jsonValues(data, datatype: datatype, elements: elements, name: name)
        }
        return Input(name: name, datatype: datatype, shape: shape, values: values, binary: binary)
    }

    private static func binaryValues(_ bytes: Data, datatype: Datatype, elements: Int, name: String) throws -> Values {
        switch datatype {
        case .fp32:
            guard bytes.count == elements * 4 else {
                throw ServiceError.malformedBody("input \(name) has \(bytes.count) bytes of FP32 data; its shape needs \(elements * 4)")
            }
            var floats = [Float](repeating: 0, count: elements)
            floats.withUnsafeMutableBytes { $0.copyBytes(from: bytes) }
            return .fp32(floats.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) })
        case .bytes:
            var items: [Data] = []
            var rest = bytes[...]
            while !rest.isEmpty {
                guard rest.count >= 4 else { throw ServiceError.malformedBody("input \(name): a BYTES element's 4-byte length is cut short") }
                let length = rest.prefix(4).reversed().reduce(0) { $0 << 8 | Int($1) }
                rest = rest.dropFirst(4)
                guard length <= rest.count else {
                    throw ServiceError.malformedBody("input \(name): a BYTES element says \(length) bytes but \(rest.count) remain")
                }
                items.append(Data(rest.prefix(length)))
                rest = rest.dropFirst(length)
            }
            guard items.count == elements else {
                throw ServiceError.malformedBody("input \(name) has \(items.count) BYTES elements; its shape needs \(elements)")
            }
            return .bytes(items)
        }
    }

    private static func jsonValues(_ data: Any, datatype: Datatype, elements: Int, name: String) throws -> Values {
        var flat: [Any] = []
        func flatten(_ value: Any) {
            if let array = value as? [Any] { array.forEach(flatten) } else { flat.append(value) }
        }
        flatten(data)
        guard flat.count == elements else {
            throw ServiceError.malformedBody("input \(name) has \(flat.count) values; its shape needs \(elements)")
        }
        switch datatype {
        case .fp32:
            return .fp32(try flat.map { value in
                guard let number = value as? NSNumber, !isBoolean(number) else {
                    throw ServiceError.malformedBody("input \(name) has a value that is not a number")
                }
                return number.floatValue
            })
        case .bytes:
            return .bytes(try flat.map { value in
                guard let text = value as? String else { throw ServiceError.malformedBody("input \(name): BYTES elements in JSON are strings") }
                return Data(text.utf8)
            })
        }
    }

    private static func optional<T>(_ value: Any?, _ type: T.Type, _ name: String) throws -> T? {
        guard let value, !(value is NSNull) else { return nil }
        guard let typed = value as? T else { throw ServiceError.malformedBody("\(name) has the wrong JSON type") }
        return typed
    }

    /// `timeline: true` (or 1) and the options beside it, named as `/v1/classify`'s query; nil without it.
    static func timelineOptions(_ parameters: [String: Any]) throws -> TimelineOptions? {
        switch parameters["timeline"] {
        case nil, is NSNull: return nil
        case let flag as NSNumber where flag == 0 || flag == 1:
            guard flag == 1 else { return nil }
        default: throw ServiceError.badParameter("parameters.timeline must be true or false")
        }
        return try TimelineOptions(topK: TimelineOptions().topK) { try number(parameters[$0], "parameters.\($0)") }
    }

    /// A finite JSON number (not a boolean), or nil when absent.
    static func number(_ value: Any?, _ name: String) throws -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(number), number.doubleValue.isFinite else {
            throw ServiceError.badParameter("\(name) must be a number")
        }
        return number.doubleValue
    }

    /// JSONSerialization gives `true` and `1` both as NSNumber; only their classes differ.
    private static let booleanType = type(of: NSNumber(value: true))

    private static func isBoolean(_ number: NSNumber) -> Bool { type(of: number) == booleanType }

    /// A JSON integer (an NSNumber with no fraction, not a boolean), or nil when absent.
    static func integer(_ value: Any?, _ name: String) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, !isBoolean(number),
              let integer = Int(exactly: number.doubleValue), Double(integer) == number.doubleValue else {
            throw ServiceError.badParameter("\(name) must be an integer")
        }
        return integer
    }
}
