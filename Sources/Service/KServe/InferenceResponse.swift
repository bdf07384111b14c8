import Foundation

/// An Open Inference Protocol v2 `infer` response: JSON, then the raw bytes of every output sent in binary, in
/// the order the JSON lists them (the binary tensor data extension, laid out as `InferenceRequest` reads it).
struct InferenceResponse {
    struct Output: Equatable {
        var name: String
        var datatype: InferenceRequest.Datatype
        var shape: [Int]
        var values: InferenceRequest.Values
        var binary: Bool
    }

    var modelName: String
    var modelVersion: String
    var id: String?
    var outputs: [Output]

    /// - Returns: the body, and the JSON's length for `Inference-Header-Content-Length` when binary data
    ///   follows it (nil when the body is all JSON).
    func encoded() -> (body: Data, headerLength: Int?) {
        var tail = Data()
        let header = Header(model_name: modelName, model_version: modelVersion, id: id, outputs: outputs.map { output in
            guard output.binary else { return Header.Tensor(output, data: output.values, binarySize: nil) }
            let bytes = Self.binary(output.values)
            tail += bytes
            return Header.Tensor(output, data: nil, binarySize: bytes.count)
        })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // A hostile CLIPS tensor can overflow to infinity; the answer still goes out, as JSON can carry it.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = (try? encoder.encode(header)) ?? Data(#"{"error":"the response could not be encoded"}"#.utf8)
        return tail.isEmpty ? (json, nil) : (json + tail, json.count)
    }

    /// FP32 little-endian; BYTES as 4-byte little-endian lengths, each followed by its bytes.
    static func binary(_ values: InferenceRequest.Values) -> Data {
        switch values {
        case .fp32(let floats):
            var data = Data(capacity: floats.count * 4)
            for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            return data
        case .bytes(let items):
            var data = Data()
            for item in items {
                withUnsafeBytes(of: UInt32(item.count).littleEndian) { data.append(contentsOf: $0) }
                data += item
            }
            return data
        }
    }

    private struct Header: Encodable {
        struct Tensor: Encodable {
            struct Parameters: Encodable { var binary_data_size: Int }
            var name: String
            var datatype: String
            var shape: [Int]
            var parameters: Parameters?
            var data: Values?

            init(_ output: Output, data: InferenceRequest.Values?, binarySize: Int?) {
                name = output.name
                datatype = output.datatype.rawValue
                shape = output.shape
                parameters = binarySize.map(Parameters.init)
                self.data = data.map(Values.init)
            }
        }

        /// BYTES go out as strings in JSON: the classification extension's are UTF-8 text.
        struct Values: Encodable {
            var values: InferenceRequest.Values
            init(_ values: InferenceRequest.Values) { self.values = values }

            func encode(to encoder: Encoder) throws {
                var container = encoder.singleValueContainer()
                switch values {
                case .fp32(let floats): try container.encode(floats)
                case .bytes(let items): try container.encode(items.map { String(decoding: $0, as: UTF8.self) })
                }
            }
        }

        var model_name: String
        var model_version: String
        var id: String?
        var outputs: [Tensor]
    }
}
