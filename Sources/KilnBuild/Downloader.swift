import Foundation
import KilnCore
import KilnRecipe

/// What `fetch` may read, and how much. `fetch` runs outside the sandbox as root, so a recipe must
/// not use it to reach host-only services or to read host files: only http(s) to addresses that
/// are not loopback/link-local/unspecified, and local files only below the recipe's directory or
/// the `--source-dir`. Downloads are capped in size and time.
public struct FetchPolicy: Sendable, Equatable {
    /// Directories local sources (`file://…`, a path) must lie in (after resolving symlinks).
    public var localRoots: [String]
    /// Let http(s) reach loopback, link-local and unspecified addresses (tests' local servers only:
    /// `KILN_FETCH_ALLOW_LOOPBACK=1`).
    public var allowLoopback: Bool
    /// Most bytes one source may have (default 2 GiB, `KILN_FETCH_MAX_SIZE`, e.g. `500M`).
    public var maxBytes: Int64
    /// Most seconds one download may take (default 1800, `KILN_FETCH_TIMEOUT`).
    public var timeoutSeconds: Int

    /// The default size cap: 2 GiB.
    public static let defaultMaxBytes: Int64 = 2 << 30
    /// The default download timeout: 30 minutes.
    public static let defaultTimeout = 1800

    /// A policy; the limits default to the environment (`KILN_FETCH_*`) or the defaults above.
    public init(localRoots: [String] = [], allowLoopback: Bool? = nil, maxBytes: Int64? = nil, timeoutSeconds: Int? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.localRoots = localRoots
        self.allowLoopback = allowLoopback ?? (environment["KILN_FETCH_ALLOW_LOOPBACK"] == "1")
        self.maxBytes = maxBytes ?? environment["KILN_FETCH_MAX_SIZE"].flatMap { try? ByteSize.parse($0, what: "KILN_FETCH_MAX_SIZE") }
            ?? Self.defaultMaxBytes
        self.timeoutSeconds = timeoutSeconds ?? environment["KILN_FETCH_TIMEOUT"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            ?? Self.defaultTimeout
    }
}

extension FetchPolicy {
    /// Throws for a `KILN_FETCH_MAX_SIZE` or `KILN_FETCH_TIMEOUT` that is set but not a size / a
    /// positive number of seconds (the initializer would otherwise fall back to the default quietly).
    public static func checkEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let v = environment["KILN_FETCH_MAX_SIZE"] { _ = try ByteSize.parse(v, what: "KILN_FETCH_MAX_SIZE") }
        if let v = environment["KILN_FETCH_TIMEOUT"], (Int(v) ?? 0) <= 0 {
            throw KilnMessage("KILN_FETCH_TIMEOUT \(v): expected a positive number of seconds")
        }
    }
}

/// A source the policy refuses: names the recipe line, the URI and what to do.
public struct FetchRefused: KilnError {
    /// Where the recipe names the source.
    public var location: SourceLocation?
    /// The URI as written.
    public var uri: String
    /// Why, and what to do.
    public var reason: String
    public var description: String { (location.map { "\($0): " } ?? "") + "fetch \(uri): \(reason)" }
}

/// Downloads with curl (outside the sandbox, redirects followed one hop at a time so every hop is
/// checked and pinned to the address checked); `file://` URIs and local paths are copied.
public enum Downloader {
    /// True for `file://` URIs and paths (anything without a `scheme://`).
    public static func isLocal(_ uri: String) -> Bool {
        uri.lowercased().hasPrefix("file://") || !uri.contains("://")
    }

    /// Fetches `uri` into `path` under `policy`; `location` is named in refusals.
    public static func download(_ uri: String, to path: String, policy: FetchPolicy = FetchPolicy(),
                                at location: SourceLocation? = nil) throws {
        if isLocal(uri) { return try copyLocal(uri, to: path, policy: policy, at: location) }
        guard Subprocess.which("curl") != nil else {
            throw KilnMessage("cannot download \(uri): curl is not installed (run `make deps`), or add the file with `kiln source add`")
        }
        var url = uri
        for _ in 0..<10 {
            let pin = try check(url, original: uri, policy: policy, at: location)
            guard let next = try curl(url, pin: pin, to: path, policy: policy, original: uri, at: location) else {
                return try checkSize(path, uri: uri, policy: policy, at: location)
            }
            url = next
        }
        throw FetchRefused(location: location, uri: uri, reason: "more than 10 redirects")
    }

    // MARK: local files

    static func copyLocal(_ uri: String, to dest: String, policy: FetchPolicy, at location: SourceLocation?) throws {
        var p = uri.lowercased().hasPrefix("file://") ? String(uri.dropFirst(7)) : uri
        if !p.hasPrefix("/") {
            guard let base = policy.localRoots.first else {
                throw FetchRefused(location: location, uri: uri, reason: "a relative path needs the recipe's directory")
            }
            p = base + "/" + p
        }
        let roots = policy.localRoots.compactMap(realPath)
        guard let real = realPath(p) else {
            throw FetchRefused(location: location, uri: uri, reason: "no such file")
        }
        guard roots.contains(where: { real == $0 || real.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
            throw FetchRefused(location: location, uri: uri, reason: "local sources must be inside the recipe's directory or --source-dir "
                                   + "(\(policy.localRoots.isEmpty ? "none given" : policy.localRoots.joined(separator: ", "))); "
                                   + "copy the file there, or add it with `kiln source add FILE`")
        }
        var st = stat()
        guard lstat(real, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw FetchRefused(location: location, uri: uri, reason: "not a regular file (a FIFO, device or directory is never read)")
        }
        guard Int64(st.st_size) <= policy.maxBytes else {
            throw FetchRefused(location: location, uri: uri, reason: "larger than the fetch limit of \(policy.maxBytes) bytes (KILN_FETCH_MAX_SIZE)")
        }
        try copyRegular(real, to: dest, maxBytes: policy.maxBytes, uri: uri, at: location)
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// Copies a regular file through one descriptor opened without following links or blocking,
    /// re-checked with fstat (the file may have been swapped since the lstat).
    static func copyRegular(_ src: String, to dest: String, maxBytes: Int64, uri: String, at location: SourceLocation?) throws {
        let fd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw KilnMessage("cannot read \(src): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw FetchRefused(location: location, uri: uri, reason: "not a regular file")
        }
        let out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw KilnMessage("cannot create \(dest): \(String(cString: strerror(errno)))") }
        defer { close(out) }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw KilnMessage("cannot read \(src): \(String(cString: strerror(errno)))") }
            if n == 0 { return }
            total += Int64(n)
            guard total <= maxBytes else {
                throw FetchRefused(location: location, uri: uri, reason: "larger than the fetch limit of \(maxBytes) bytes (KILN_FETCH_MAX_SIZE)")
            }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(out, $0.baseAddress! + off, n - off) }
                if w < 0 { if errno == EINTR { continue }; throw KilnMessage("cannot write \(dest): \(String(cString: strerror(errno)))") }
                off += w
            }
        }
    }

    // MARK: http(s)

    /// The host, port and one checked address for `url`; refuses other schemes and host-only addresses.
    static func check(_ url: String, original: String, policy: FetchPolicy, at location: SourceLocation?) throws -> (host: String, port: Int, address: String) {
        guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw FetchRefused(location: location, uri: original, reason: (url == original ? "" : "redirected to \(url): ")
                                   + "only http and https sources are fetched (or a local file beside the recipe)")
        }
        guard var host = c.host, !host.isEmpty else { throw FetchRefused(location: location, uri: original, reason: "no host in \(url)") }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = c.port ?? (scheme == "https" ? 443 : 80)
        let addresses = resolve(host)
        guard let first = addresses.first else {
            throw FetchRefused(location: location, uri: original, reason: "cannot resolve \(host)")
        }
        if !policy.allowLoopback, let bad = addresses.first(where: isHostOnly) {
            throw FetchRefused(location: location, uri: original, reason: (url == original ? "" : "redirected to \(url): ")
                                   + "\(host) is a loopback, link-local or unspecified address (\(bad)); kiln fetches run as root on this "
                                   + "machine and never reach its own services (tests set KILN_FETCH_ALLOW_LOOPBACK=1)")
        }
        return (host, port, first)
    }

    /// Every address `host` resolves to (numeric hosts included), as text.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &res) == 0, let head = res else { return [] }
        defer { freeaddrinfo(head) }
        var out: [String] = []
        var p: UnsafeMutablePointer<addrinfo>? = head
        while let a = p {
            var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(a.pointee.ai_addr, a.pointee.ai_addrlen, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) == 0 {
                out.append(String(cString: buf))
            }
            p = a.pointee.ai_next
        }
        return out
    }

    /// Loopback (127/8, ::1), unspecified (0.0.0.0/8, ::), link-local (169.254/16 — cloud metadata
    /// services — and fe80::/10), and IPv4-mapped forms of them.
    public static func isHostOnly(_ address: String) -> Bool {
        var a = address.lowercased()
        if let pct = a.firstIndex(of: "%") { a = String(a[..<pct]) }
        if a.hasPrefix("::ffff:") { a = String(a.dropFirst(7)) }
        if a == "::1" || a == "::" || a.hasPrefix("fe8") || a.hasPrefix("fe9") || a.hasPrefix("fea") || a.hasPrefix("feb") { return true }
        let octets = a.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { return false }
        return octets[0] == 127 || octets[0] == 0 || (octets[0] == 169 && octets[1] == 254)
    }

    /// One curl request pinned to the checked address; returns the redirect target, or nil when done.
    static func curl(_ url: String, pin: (host: String, port: Int, address: String), to path: String, policy: FetchPolicy,
                     original: String, at location: SourceLocation?) throws -> String? {
        try? FileManager.default.removeItem(atPath: path)
        let address = pin.address.contains(":") ? "[\(pin.address)]" : pin.address
        // A name is pinned to the address checked (no second DNS answer); an IP literal needs no pin.
        let resolve = pin.host == pin.address || pin.host.contains(":") ? [] : ["--resolve", "\(pin.host):\(pin.port):\(address)"]
        let r = try Subprocess("curl", ["-sS", "--fail", "--proto", "=http,https", "--retry", "3", "--connect-timeout", "30",
                                        "--max-time", String(policy.timeoutSeconds), "--retry-max-time", String(policy.timeoutSeconds),
                                        "--max-filesize", String(policy.maxBytes)] + resolve
                                        + ["-o", path, "-w", "%{http_code} %{redirect_url}", url]).run()
        guard r.succeeded else {
            let why = r.status == 63 ? "larger than the fetch limit of \(policy.maxBytes) bytes (KILN_FETCH_MAX_SIZE)"
                : r.status == 28 ? "timed out after \(policy.timeoutSeconds) s (KILN_FETCH_TIMEOUT)"
                : "curl exit \(r.status): \(r.stderrString.trimmingCharacters(in: .whitespacesAndNewlines))"
            throw KilnMessage((location.map { "\($0): " } ?? "") + "cannot download \(original): \(why)")
        }
        let parts = r.stdoutString.split(separator: " ", maxSplits: 1).map(String.init)
        guard let code = parts.first.flatMap({ Int($0) }), (300..<400).contains(code), parts.count == 2, !parts[1].isEmpty else { return nil }
        return parts[1]
    }

    /// A chunked response has no size for curl to check up front: check what arrived.
    static func checkSize(_ path: String, uri: String, policy: FetchPolicy, at location: SourceLocation?) throws {
        var st = stat()
        if stat(path, &st) == 0, Int64(st.st_size) > policy.maxBytes {
            throw FetchRefused(location: location, uri: uri, reason: "larger than the fetch limit of \(policy.maxBytes) bytes (KILN_FETCH_MAX_SIZE)")
        }
    }
}
