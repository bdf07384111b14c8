import Foundation
import HTTPServer

/// A request's options by name: its query parameters and, for a form upload, the form's text fields, since an
/// HTML form has no query string of its own. Only the names the service reads are looked at: one of them given
/// twice with different values is refused rather than one silently winning; other names may repeat freely.
struct RequestOptions {
    private var values: [String: [Data]] = [:]
    /// Longer than any option's value: a longer field is refused before it is decoded.
    static let maxValueBytes = 256

    init(query: [(name: String, value: String)], formFields: [MultipartPart] = []) {
        for (name, value) in query { values[name, default: []].append(Data(value.utf8)) }
        for part in formFields where part.filename == nil {
            if let name = part.name { values[name, default: []].append(part.body) }
        }
    }

    /// The value of option `name`, or nil when absent.
    /// - Throws: `ServiceError.badParameter` for two different values, or a value over `maxValueBytes`.
    func value(_ name: String) throws -> String? {
        guard let given = values[name], let first = given.first else { return nil }
        guard given.allSatisfy({ $0.count <= Self.maxValueBytes }) else {
            throw ServiceError.badParameter("\(name) is over \(Self.maxValueBytes) bytes long")
        }
        if let other = given.first(where: { $0 != first }) {
            throw ServiceError.badParameter("\(name) is given twice, as '\(Self.text(first).prefix(40))' and '\(Self.text(other).prefix(40))'")
        }
        return Self.text(first)
    }

    private static func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }
}
