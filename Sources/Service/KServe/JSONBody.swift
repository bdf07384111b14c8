import Foundation
import HTTPServer

/// A JSON request body parsed with its memory bounded. JSONSerialization keeps every value boxed, 70-95 bytes
/// each here, about 50 times the text of a tensor of small numbers: one 61 MB body of zeros took the server to
/// 2.5 GB. So the values are counted from the text first, refused over `maxValues`, and charged to the server's
/// body budget through the request's context before the parse.
enum JSONBody {
    /// What one parsed value costs, rounded up from the measured 70-95 bytes.
    static let bytesPerValue = 96
    /// Four million values (384 MB parsed): six clips of FP32 as JSON numbers. More must come as binary tensor data.
    static let maxValues = 4_000_000

    /// - Throws: `ServiceError` 413 over `maxValues` or more than the whole budget could hold, 503 when what the
    ///   budget has left cannot take them, 400 for text that is not JSON (`what` names the body, `hint` follows the
    ///   400's detail, made only then).
    static func parse(_ bytes: Data, context: RequestContext?, what: String, hint: @autoclosure () -> String = "") throws -> Any {
        let values = valueBound(bytes)
        let cap = min(maxValues, (context?.holdLimit ?? .max) / bytesPerValue)
        guard values <= cap else {
            throw ServiceError(.contentTooLarge, "\(what) holds over \(cap) JSON values; send tensors as binary data (binary_data_size)")
        }
        guard context?.hold(values * bytesPerValue) ?? true else { throw ServiceError.overloaded(BodyBudget.refusal) }
        do {
            return try JSONSerialization.jsonObject(with: bytes)
        } catch {
            throw ServiceError.malformedBody("\(what) is not valid JSON" + hint())
        }
    }

    /// At least the number of values and keys in JSON text: each but the first in its array or object follows a
    /// comma, so commas and opening brackets outside strings bound them. One pass over the bytes, no allocation.
    static func valueBound(_ bytes: Data) -> Int {
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int in
            var count = 1, inString = false, escaped = false
            for byte in raw {
                if inString {
                    if escaped { escaped = false }
                    else if byte == UInt8(ascii: "\\") { escaped = true }
                    else if byte == UInt8(ascii: "\"") { inString = false }
                } else if byte == UInt8(ascii: "\"") {
                    inString = true
                } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "[") || byte == UInt8(ascii: "{") {
                    count += 1
                }
            }
            return count
        }
    }
}
