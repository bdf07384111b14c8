import Foundation
import HTTPServer

/// A request's options by name: its query parameters and, for a form upload, the form's text fields, since an
/// HTML form has no query string of its own. An option given twice with different values is refused rather than
/// one of them silently winning.
struct RequestOptions {
    private var values: [String: String] = [:]

    /// - Throws: `ServiceError.badParameter` for an option with two different values.
    init(query: [(name: String, value: String)], formFields: [MultipartPart] = []) throws {
        let fields = formFields.compactMap { part -> (name: String, value: String)? in
            guard let name = part.name, part.filename == nil else { return nil }
            return (name, String(decoding: part.body, as: UTF8.self))
        }
        for (name, value) in query + fields {
            if let earlier = values[name], earlier != value {
                throw ServiceError.badParameter("\(name.prefix(40)) is given twice, as '\(earlier.prefix(40))' and '\(value.prefix(40))'")
            }
            values[name] = value
        }
    }

    subscript(name: String) -> String? { values[name] }
}
