import Foundation

/// One part of a multipart/form-data body. `body` is a slice of the request body, not a copy.
public struct MultipartPart: Sendable {
    public var headers: HTTPHeaders
    /// From Content-Disposition: the form field's name and, for files, the file name.
    public var name: String?
    public var filename: String?
    public var contentType: String?
    public var body: Data
}

/// multipart/form-data (RFC 7578, RFC 2046 section 5.1) parsing.
///
/// ```
/// preamble CRLF? "--" boundary CRLF
///   part headers CRLF CRLF content
/// CRLF "--" boundary CRLF  (next part) ... CRLF "--" boundary "--" epilogue
/// ```
public enum Multipart {
    public static let maxParts = 64
    static let maxPartHeaderBytes = 8 * 1024

    /// The boundary parameter of a `multipart/form-data` Content-Type, or nil for any other type.
    public static func boundary(contentType: String) -> String? {
        let (type, parameters) = MediaType.parse(contentType)
        guard type == "multipart/form-data", let boundary = parameters["boundary"],
              (1...70).contains(boundary.utf8.count) else { return nil }
        return boundary
    }

    /// - Throws: `MultipartError` naming what is malformed.
    public static func parse(_ body: Data, boundary: String) throws -> [MultipartPart] {
        let delimiter = Data("--\(boundary)".utf8)
        let separator = Data("\r\n--\(boundary)".utf8)
        let crlf = Data("\r\n".utf8), headerEnd = Data("\r\n\r\n".utf8)
        // The first delimiter may start the body or follow a preamble line.
        guard let first = body.starts(with: delimiter) ? body.startIndex..<(body.startIndex + delimiter.count) : body.range(of: separator)
        else { throw MultipartError("multipart body without its boundary") }
        var position = first.upperBound
        var parts: [MultipartPart] = []
        while true {
            // After a delimiter: "--" closes the body, CRLF opens a part (transport padding allowed before it).
            if body[position...].starts(with: Data("--".utf8)) { return parts }
            while position < body.endIndex, body[position] == 32 || body[position] == 9 { position += 1 }
            guard body[position...].starts(with: crlf) else { throw MultipartError("malformed multipart delimiter line") }
            position += 2
            guard parts.count < maxParts else { throw MultipartError("more than \(maxParts) multipart parts") }
            let headerLimit = min(body.endIndex, position + maxPartHeaderBytes)
            let headers: HTTPHeaders
            let contentStart: Int
            if body[position...].starts(with: crlf) {
                headers = HTTPHeaders()
                contentStart = position + 2
            } else {
                guard let end = body.range(of: headerEnd, in: position..<headerLimit) else {
                    throw MultipartError("multipart part headers unterminated or too large")
                }
                var fields = HTTPHeaders()
                for line in body[position..<end.lowerBound].split(separator: crlf) {
                    guard case .success(let (name, value)) = RequestParser.parseField(ArraySlice(line)) else {
                        throw MultipartError("malformed multipart part header")
                    }
                    fields.add(name, value)
                }
                headers = fields
                contentStart = end.upperBound
            }
            guard let next = body.range(of: separator, in: contentStart..<body.endIndex) else {
                throw MultipartError("multipart body ends without its closing boundary")
            }
            let disposition = headers["Content-Disposition"].map(MediaType.parse)
            guard let disposition, disposition.type == "form-data" else {
                throw MultipartError("multipart part without Content-Disposition: form-data")
            }
            parts.append(MultipartPart(headers: headers, name: disposition.parameters["name"],
                                       filename: disposition.parameters["filename"], contentType: headers["Content-Type"],
                                       body: body[contentStart..<next.lowerBound]))
            position = next.upperBound
        }
    }
}

/// `type/subtype; name=value; name="quoted \" value"` as in Content-Type and Content-Disposition.
enum MediaType {
    /// The lowercased type and the parameters (names lowercased, values unquoted).
    static func parse(_ text: String) -> (type: String, parameters: [String: String]) {
        var parameters: [String: String] = [:]
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func skipSpaces() { while i < scalars.count, scalars[i] == " " || scalars[i] == "\t" { i += 1 } }
        func token() -> String {
            var out = ""
            while i < scalars.count, scalars[i] != ";", scalars[i] != "=" { out.unicodeScalars.append(scalars[i]); i += 1 }
            return out.trimmingHTTPWhitespace()
        }
        let type = token().lowercased()
        while i < scalars.count, scalars[i] == ";" {
            i += 1
            skipSpaces()
            let name = token().lowercased()
            guard i < scalars.count, scalars[i] == "=" else { continue }
            i += 1
            skipSpaces()
            var value = ""
            if i < scalars.count, scalars[i] == "\"" {
                i += 1
                while i < scalars.count, scalars[i] != "\"" {
                    if scalars[i] == "\\", i + 1 < scalars.count { i += 1 }
                    value.unicodeScalars.append(scalars[i])
                    i += 1
                }
                i += 1
                while i < scalars.count, scalars[i] != ";" { i += 1 }
            } else {
                value = token()
            }
            if !name.isEmpty && parameters[name] == nil { parameters[name] = value }
        }
        return (type, parameters)
    }
}
