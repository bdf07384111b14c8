import Foundation

/// RFC 4180 text: fields separated by commas, quoted with `"` when they hold a comma, quote or line break, a quote
/// inside doubled. Reads `\n` and `\r\n` line ends.
enum CSVText {
    /// The rows of `text`; blank lines are skipped. Each row keeps the line it started on (1-based), for errors.
    /// - Throws: `EvaluationError.malformedList` for a quote left open.
    static func rows(_ text: String, path: String) throws -> [(line: Int, fields: [String])] {
        var rows: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false, wasQuoted = false
        var line = 1, rowLine = 1
        var characters = text.makeIterator()
        var pending: Character? = characters.next()
        func endRow() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty && !wasQuoted) { rows.append((rowLine, fields)) }
            fields = []
            field = ""
            wasQuoted = false
        }
        while let c = pending {
            pending = characters.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { field.append("\""); pending = characters.next() } else { quoted = false }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty:
                quoted = true
                wasQuoted = true
            case ",":
                fields.append(field)
                field = ""
            case "\n", "\r\n":
                endRow()
                line += 1
                rowLine = line
            case "\r":
                continue
            default:
                field.append(c)
            }
        }
        guard !quoted else { throw EvaluationError.malformedList(path: path, line: rowLine, reason: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRow() }
        return rows
    }

    /// One row, fields quoted where they need it, with its line end.
    static func line(_ fields: [String]) -> String {
        fields.map { field in
            field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
                ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\n"
    }
}
