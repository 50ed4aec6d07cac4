import Foundation
import KilnCore
import KilnCrypto

/// An absolute http(s) URL as the registry client uses it: scheme, host, port, path with query.
public struct HTTPURL: Equatable, Sendable, CustomStringConvertible {
    /// `http` or `https`.
    public var scheme: String
    /// Host name or address (IPv6 in brackets).
    public var host: String
    /// Port (default 443 / 80).
    public var port: Int
    /// Path and query, starting with `/`.
    public var target: String

    /// A URL from its parts.
    public init(scheme: String, host: String, port: Int? = nil, target: String) {
        self.scheme = scheme; self.host = host; self.port = port ?? (scheme == "https" ? 443 : 80)
        self.target = target.hasPrefix("/") ? target : "/" + target
    }

    /// Parses `scheme://host[:port][/path][?query]`; throws for anything else.
    public init(parsing s: String) throws {
        let lower = s.lowercased()
        guard let sep = s.range(of: "://"), lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw HTTPError("\(s): not an http(s) URL")
        }
        let scheme = String(lower[..<sep.lowerBound])
        let rest = s[sep.upperBound...]
        let authEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<authEnd])
        var target = String(rest[authEnd...])
        if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
        guard !authority.isEmpty, !authority.contains("@"), authority.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw HTTPError("\(s): bad host in URL")
        }
        var host = authority, port: Int?
        if let c = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            host = String(authority[..<c])
            guard let p = Int(authority[authority.index(after: c)...]), (1...65535).contains(p) else { throw HTTPError("\(s): bad port in URL") }
            port = p
        }
        guard !target.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else { throw HTTPError("\(s): bad characters in URL path") }
        self.init(scheme: scheme, host: host.lowercased(), port: port, target: target)
    }

    /// `scheme://host:port` — the unit of connection reuse and of credential scope.
    public var origin: String { "\(scheme)://\(host):\(port)" }
    /// The `Host` header value.
    public var hostHeader: String { port == (scheme == "https" ? 443 : 80) ? host : "\(host):\(port)" }
    public var description: String { "\(scheme)://\(hostHeader)\(target)" }

    /// A `Location` (absolute, or relative to this URL's origin) resolved against this URL.
    public func resolving(_ location: String) throws -> HTTPURL {
        if location.lowercased().hasPrefix("http://") || location.lowercased().hasPrefix("https://") { return try HTTPURL(parsing: location) }
        guard location.hasPrefix("/"), !location.hasPrefix("//") else { throw HTTPError("\(self): unsupported Location \(location)") }
        return try HTTPURL(parsing: "\(scheme)://\(hostHeader)\(location)")
    }

    /// This URL with `query` (already encoded) appended.
    public func appendingQuery(_ query: String) -> HTTPURL {
        var u = self
        u.target += (target.contains("?") ? "&" : "?") + query
        return u
    }
}

/// A request body: nothing, bytes, or a file streamed from disk (never read whole).
public enum HTTPBody: Sendable {
    case none
    case data(Data)
    case file(path: String, size: Int64)
    /// `length` bytes of the file from `offset` (chunked uploads).
    case fileRange(path: String, offset: Int64, length: Int64)

    var length: Int64 {
        switch self { case .none: 0; case let .data(d): Int64(d.count); case let .file(_, s): s; case let .fileRange(_, _, l): l }
    }
}

/// One request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: HTTPURL
    /// Extra headers (Host, Content-Length and User-Agent are added by the client).
    public var headers: [(String, String)]
    public var body: HTTPBody

    /// A request.
    public init(method: String, url: HTTPURL, headers: [(String, String)] = [], body: HTTPBody = .none) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
    }
}

/// A response: status, headers, and the body unless it was streamed to a sink.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data
    /// The URL that answered (after redirects).
    public var url: HTTPURL

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }

    /// A short text for error messages: the body's first line(s), printable only.
    public var bodySnippet: String {
        let s = String(decoding: body.prefix(300), as: UTF8.self).filter { $0.isASCII && ($0 == " " || !$0.isWhitespace) }
        return s.isEmpty ? "(empty body)" : s
    }
}

/// Client settings: TLS, loopback-only plain HTTP, timeouts, retries and size bounds.
public struct HTTPOptions: Sendable {
    /// CA bundle and client certificate.
    public var tls = TLSClientOptions()
    /// Allow plain HTTP, and only to loopback addresses (`--insecure-loopback`).
    public var insecureLoopback = false
    /// Seconds for connecting and for each read or write.
    public var timeout: Double = 30
    /// Attempts after the first for 5xx, 429 and connection failures.
    public var retries = 3
    /// First backoff in seconds (doubled each retry; `Retry-After` is honoured up to 10 s).
    public var backoff: Double = 0.25
    /// Redirects followed per request before giving up.
    public var maxRedirects = 5
    /// Blobs larger than this are uploaded in chunks (PATCH) of `chunkSize` bytes.
    public var chunkThreshold: Int64 = 512 << 20
    /// Size of each PATCH in a chunked upload.
    public var chunkSize: Int64 = 64 << 20
    /// Bound on the status line + headers.
    public var maxHeaderBytes = 64 * 1024
    /// Default options.
    public init() {}
}
