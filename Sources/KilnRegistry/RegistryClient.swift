import Foundation
import KilnCore
import KilnCrypto
import KilnOCI

/// How to reach a registry: transport options and credentials (nil = looked up, see `RegistryCredentials.lookup`).
public struct RegistryOptions: Sendable {
    /// TLS, plain-loopback, timeouts, retries.
    public var http = HTTPOptions()
    /// Credentials; nil = from the environment / docker config, or anonymous.
    public var credentials: RegistryCredentials?
    /// Repository to cross-mount blobs from when pushing (same registry).
    public var mountFrom: String?
    /// Blob uploads at once during a push (each on its own connection).
    public var parallelUploads = 4
    /// Progress lines (one per blob and manifest); never contains credentials.
    public var progress: @Sendable (String) -> Void = { _ in }
    /// Default options.
    public init() {}
}

/// The media types kiln accepts for manifests.
let manifestAccept = [OCIMediaType.imageManifest, OCIMediaType.imageIndex, OCIMediaType.dockerManifest, OCIMediaType.dockerManifestList].joined(separator: ", ")

/// Distribution-spec calls against one registry, with anonymous, Basic and Bearer (token service)
/// authentication. A 401 answer's `WWW-Authenticate` challenge decides the scheme; Bearer tokens are
/// fetched per repository scope and cached. Plain HTTP only for loopback with `insecureLoopback`.
public final class RegistryClient {
    /// `host[:port]`.
    public let registry: String
    /// The base URL (`https://host:port`, or `http://` for loopback with --insecure-loopback).
    public let base: HTTPURL
    /// The HTTP client.
    public let http: HTTPClient
    let options: RegistryOptions
    private let credentials: RegistryCredentials?
    private var tokens: [String: String] = [:]
    private var useBasic = false

    /// A client for `registry`.
    public init(registry: String, options: RegistryOptions) throws {
        self.registry = registry
        self.options = options
        let hostOnly = registry.hasPrefix("[") ? String(registry[...(registry.firstIndex(of: "]") ?? registry.startIndex)])
            : String(registry.split(separator: ":").first ?? "")
        let scheme = options.http.insecureLoopback && isLoopbackHost(hostOnly) ? "http" : "https"
        if options.http.insecureLoopback && !isLoopbackHost(hostOnly) {
            throw KilnMessage("--insecure-loopback allows plain HTTP only to loopback addresses (127.0.0.0/8, ::1, localhost); \(registry) is not one")
        }
        base = try HTTPURL(parsing: "\(scheme)://\(registry)/v2/")
        http = try HTTPClient(options: options.http)
        credentials = try options.credentials ?? RegistryCredentials.lookup(registry: registry)
    }

    /// "https TLSv1.3 TLS_AES_128_GCM_SHA256 (FIPS provider)" or "plain HTTP (loopback)" for the open connection.
    public var transportDescription: String {
        guard base.scheme == "https" else { return "plain HTTP (loopback, --insecure-loopback)" }
        guard let t = http.tlsParameters(for: base) else { return "https" }
        return "\(t.version) \(t.cipher)" + (CryptoProvider.isFIPS ? " from the OpenSSL FIPS provider" : "")
    }

    private var announced = false

    /// `/v2/<repo>/<path>` on this registry.
    public func url(_ repo: String, _ path: String) -> HTTPURL {
        var u = base
        u.target = "/v2/\(repo)/\(path)"
        return u
    }

    /// Sends a request for `repo` with `actions` ("pull" or "pull,push"), authenticating on a 401 challenge.
    public func send(_ method: String, _ url: HTTPURL, repo: String, actions: String, headers: [(String, String)] = [],
                     body: HTTPBody = .none, maxBody: Int64 = 4 << 20,
                     sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) throws -> HTTPResponse {
        let scope = "repository:\(repo):\(actions)"
        var req = HTTPRequest(method: method, url: url, headers: headers, body: body)
        if let a = authorization(scope: scope, url: url) { req.headers.append(("Authorization", a)) }
        var resp = try http.send(req, maxBody: maxBody, sink: sink)
        if !announced { announced = true; options.progress("\(registry): \(transportDescription)") }
        guard resp.status == 401 else { return resp }
        try authenticate(challenge: resp.header("WWW-Authenticate") ?? "", scope: scope, url: url)
        req.headers.removeAll { $0.0 == "Authorization" }
        if let a = authorization(scope: scope, url: url) { req.headers.append(("Authorization", a)) }
        resp = try http.send(req, maxBody: maxBody, sink: sink)
        if resp.status == 401 || resp.status == 403 {
            throw KilnMessage("\(registry): access to \(repo) (\(actions)) denied: HTTP \(resp.status) "
                + (credentials == nil ? "— no credentials (set KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD or log in to write ~/.docker/config.json)"
                   : "with the credentials for \(credentials!.user) — check them and the account's rights"))
        }
        return resp
    }

    private func authorization(scope: String, url: HTTPURL) -> String? {
        guard url.origin == base.origin else { return nil }
        if let t = tokens[scope] { return "Bearer " + t }
        return useBasic ? credentials?.basicHeader : nil
    }

    /// Parses `Basic realm=…` / `Bearer realm="…",service="…",scope="…"`.
    static func parseChallenge(_ h: String) -> (scheme: String, params: [String: String]) {
        let trimmed = h.trimmingCharacters(in: .whitespaces)
        let sp = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        var params: [String: String] = [:]
        var rest = Substring(trimmed[sp...])
        while let eq = rest.firstIndex(of: "=") {
            let key = rest[..<eq].trimmingCharacters(in: CharacterSet(charactersIn: " ,")).lowercased()
            rest = rest[rest.index(after: eq)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var end = rest.endIndex
                for i in rest.indices {
                    let c = rest[i]
                    if escaped { value.append(c); escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { end = i; break } else { value.append(c) }
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            params[key] = value
        }
        return (String(trimmed[..<sp]).lowercased(), params)
    }

    private func authenticate(challenge: String, scope: String, url: HTTPURL) throws {
        let (scheme, params) = RegistryClient.parseChallenge(challenge)
        switch scheme {
        case "basic":
            guard credentials != nil else {
                throw KilnMessage("\(registry) requires a user name and password (Basic auth): set KILN_REGISTRY_USER and KILN_REGISTRY_PASSWORD, or add it to ~/.docker/config.json auths")
            }
            useBasic = true
        case "bearer":
            guard let realm = params["realm"] else { throw KilnMessage("\(registry): Bearer challenge without a realm: \(challenge.prefix(120))") }
            var tokenURL = try HTTPURL(parsing: realm)
            var query: [String] = []
            if let s = params["service"] { query.append("service=" + RegistryClient.encode(s)) }
            query.append("scope=" + RegistryClient.encode(scope))
            tokenURL = tokenURL.appendingQuery(query.joined(separator: "&"))
            var headers: [(String, String)] = []
            if let c = credentials { headers.append(("Authorization", c.basicHeader)) }
            let resp = try http.send(HTTPRequest(method: "GET", url: tokenURL, headers: headers), maxBody: 1 << 20)
            guard resp.status == 200 else {
                throw KilnMessage("\(registry): the token service \(tokenURL.origin) refused a token for \(scope): HTTP \(resp.status)"
                    + (credentials == nil ? " (no credentials: set KILN_REGISTRY_USER/KILN_REGISTRY_PASSWORD)" : ""))
            }
            let j = try JSON.parse(resp.body, source: "token from \(tokenURL.origin)")
            guard let t = j["token"]?.string ?? j["access_token"]?.string, !t.isEmpty,
                  t.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
                throw KilnMessage("\(registry): the token service's answer has no usable token")
            }
            tokens[scope] = t
        default:
            throw KilnMessage("\(registry): HTTP 401 with an unsupported or missing challenge \(challenge.isEmpty ? "(no WWW-Authenticate)" : String(challenge.prefix(80)))")
        }
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }

    /// Throws a clear error for an unexpected status, quoting the registry's error body.
    func expect(_ resp: HTTPResponse, _ ok: Set<Int>, _ what: String) throws {
        guard ok.contains(resp.status) else {
            throw KilnMessage("\(registry): \(what): HTTP \(resp.status): \(resp.bodySnippet)")
        }
    }

    /// Checks a `Docker-Content-Digest` header (when present) against `digest`.
    func checkDigestHeader(_ resp: HTTPResponse, _ digest: String, _ what: String) throws {
        if let h = resp.header("Docker-Content-Digest"), h != digest {
            throw KilnMessage("\(registry): \(what): the registry says Docker-Content-Digest \(h), expected \(digest)")
        }
    }
}
