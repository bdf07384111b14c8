import COpenSSL
import Foundation
import HTTPServer

/// The browser page at `/`: one HTML page, its stylesheet, script and icon, compiled into the binary
/// (`WebUIFiles`, generated from `webui/`).
///
/// Each asset's URL carries a hash of its content (`assets/app.3f9c….js`), so it is cached for a year and a new
/// build can never be served a stale copy; the page itself is revalidated on every load (ETag, 304). Every URL
/// in the page is relative, so it works behind TLS and under a proxy's path prefix.
struct WebUI: Sendable {
    struct Asset: Sendable {
        var path: String
        var contentType: String
        var body: Data
        var etag: String
        var cacheControl: String
    }

    /// The page, then the assets it links to.
    let assets: [Asset]

    /// Scripts and styles only from this origin (no inline code, no eval), video from the page's own object URLs,
    /// requests only to this origin, no framing.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let securityHeaders: HTTPHeaders = [
        "Content-Security-Policy": contentSecurityPolicy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    ]

    private static let contentTypes = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
    ]

    init(files: [(name: String, text: String)] = WebUIFiles.all) {
        var page: (name: String, text: String)?
        var assets: [Asset] = []
        var links: [String: String] = [:]
        for file in files {
            // The generated raw strings end before the file's last newline.
            let text = file.text + "\n"
            guard file.name != "index.html" else { page = (file.name, text); continue }
            let hash = Self.sha256Hex(Data(text.utf8))
            let dot = file.name.lastIndex(of: ".")!
            let hashed = "assets/\(file.name[..<dot]).\(hash.prefix(16))\(file.name[dot...])"
            links[file.name] = hashed
            assets.append(Asset(path: "/" + hashed, contentType: Self.contentType(file.name), body: Data(text.utf8),
                                etag: "\"\(hash.prefix(32))\"", cacheControl: "public, max-age=31536000, immutable"))
        }
        guard let page else { preconditionFailure("webui/ has no index.html") }
        var html = page.text
        for (name, link) in links { html = html.replacingOccurrences(of: "{{\(name)}}", with: link) }
        precondition(!html.contains("{{"), "index.html links to a file that is not in webui/")
        let body = Data(html.utf8)
        self.assets = [Asset(path: "/", contentType: Self.contentType(page.name), body: body,
                             etag: "\"\(Self.sha256Hex(body).prefix(32))\"", cacheControl: "no-cache")] + assets
    }

    /// Adds `GET /` and one route per asset (HEAD is served by GET).
    func register(on router: inout Router) {
        for asset in assets {
            router.addInline("GET", asset.path) { request, _ in Self.response(asset, request) }
        }
    }

    /// The asset, or 304 Not Modified when the request's If-None-Match already names its ETag.
    static func response(_ asset: Asset, _ request: HTTPRequest) -> HTTPResponse {
        var headers = securityHeaders
        headers.set("ETag", asset.etag)
        headers.set("Cache-Control", asset.cacheControl)
        if matches(request.headers.values("If-None-Match"), etag: asset.etag) {
            return HTTPResponse(status: 304, headers: headers)
        }
        headers.set("Content-Type", asset.contentType)
        return HTTPResponse(status: .ok, headers: headers, body: asset.body)
    }

    /// RFC 9110 section 13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix is ignored).
    static func matches(_ fields: [String], etag: String) -> Bool {
        for field in fields {
            for tag in field.split(separator: ",") {
                var tag = tag.trimmingCharacters(in: .whitespaces)
                if tag == "*" { return true }
                if tag.hasPrefix("W/") { tag.removeFirst(2) }
                if tag == etag { return true }
            }
        }
        return false
    }

    private static func contentType(_ name: String) -> String {
        contentTypes[String(name.split(separator: ".").last ?? "")] ?? "application/octet-stream"
    }

    private static func sha256Hex(_ data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        data.withUnsafeBytes { _ = EVP_Digest($0.baseAddress, $0.count, &digest, &length, EVP_sha256(), nil) }
        return digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }
}
