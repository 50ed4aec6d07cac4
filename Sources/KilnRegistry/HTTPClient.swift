import Foundation
import KilnCore
import KilnCrypto

/// A small HTTP/1.1 client: keep-alive per origin, Content-Length and chunked bodies, request bodies
/// streamed from files, response bodies streamed to a sink (for 2xx) or kept (bounded), redirects
/// (credentials dropped when the origin changes; a loop limit), retries with backoff on 5xx, 429 and
/// connection failures. TLS is libssl in kiln's library context; plain HTTP only to loopback, only when asked.
public final class HTTPClient {
    /// The options this client was made with.
    public let options: HTTPOptions
    private let tlsContext: TLSContext?
    private var pool: [String: Connection] = [:]
    /// Sleep used between retries (tests shorten it).
    var sleep: (Double) -> Void = { usleep(UInt32(max(0, $0) * 1_000_000)) }

    /// A client; the CA bundle (and client certificate) is loaded now.
    public init(options: HTTPOptions) throws {
        self.options = options
        self.tlsContext = try TLSContext(options: options.tls)
    }

    /// The negotiated TLS protocol and cipher of the open connection to `url`'s origin, if any.
    public func tlsParameters(for url: HTTPURL) -> (version: String, cipher: String)? {
        pool[url.origin]?.tls.map { ($0.protocolVersion, $0.cipher) }
    }

    /// Sends `request`, following redirects and retrying transient failures. A 2xx body goes to
    /// `sink` when given (else it is kept); bodies larger than `maxBody` are refused.
    public func send(_ request: HTTPRequest, maxBody: Int64 = 4 << 20,
                     sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil) throws -> HTTPResponse {
        var req = request
        var seen: [String] = []
        for _ in 0...options.maxRedirects {
            let resp = try sendRetrying(req, maxBody: maxBody, sink: sink)
            guard [301, 302, 303, 307, 308].contains(resp.status), let loc = resp.header("Location"),
                  req.method == "GET" || req.method == "HEAD" else { return resp }
            let next = try req.url.resolving(loc)
            seen.append(req.url.description)
            if next.origin != req.url.origin {
                req.headers.removeAll { $0.0.lowercased() == "authorization" }   // never forward credentials
            }
            req.url = next
        }
        throw HTTPError("\(request.url): more than \(options.maxRedirects) redirects (a loop? \(seen.suffix(3).joined(separator: " → ")))")
    }

    private func sendRetrying(_ req: HTTPRequest, maxBody: Int64, sink: ((UnsafeRawBufferPointer) throws -> Void)?) throws -> HTTPResponse {
        var attempt = 0
        while true {
            do {
                let resp = try sendOnce(req, maxBody: maxBody, sink: sink)
                if (resp.status >= 500 || resp.status == 429) && attempt < options.retries {
                    let after = resp.header("Retry-After").flatMap(Double.init).map { min($0, 10) }
                    sleep(after ?? options.backoff * Double(1 << attempt)); attempt += 1; continue
                }
                return resp
            } catch let e as HTTPError where e.retryable && attempt < options.retries {
                sleep(options.backoff * Double(1 << attempt)); attempt += 1
            }
        }
    }

    private func connection(for url: HTTPURL, fresh: Bool) throws -> (Connection, reused: Bool) {
        if !fresh, let c = pool[url.origin] { return (c, true) }
        pool[url.origin] = nil
        if url.scheme == "http" {
            guard isLoopbackHost(url.host) else {
                throw HTTPError("\(url): plain HTTP is refused (kiln talks plain HTTP only to loopback addresses, with --insecure-loopback); use https")
            }
            guard options.insecureLoopback else {
                throw HTTPError("\(url): plain HTTP to \(url.hostHeader) needs --insecure-loopback (loopback addresses only); otherwise use TLS")
            }
        }
        let c: Connection
        do {
            c = try Connection(host: url.host, port: url.port, tls: url.scheme == "https" ? tlsContext : nil, timeout: options.timeout)
        } catch let TLSError.handshake(host, detail) where detail.contains("wrong version number") {
            throw HTTPError("\(url.hostHeader): the server does not speak TLS (\(detail)); a plain-HTTP registry on loopback needs --insecure-loopback"
                + (isLoopbackHost(host) ? "" : " (allowed for loopback addresses only)"))
        }
        pool[url.origin] = c
        return (c, false)
    }

    private func sendOnce(_ req: HTTPRequest, maxBody: Int64, sink: ((UnsafeRawBufferPointer) throws -> Void)?) throws -> HTTPResponse {
        var (conn, reused) = try connection(for: req.url, fresh: false)
        do {
            return try exchange(conn, req, maxBody: maxBody, sink: sink)
        } catch let e as StaleConnection {
            _ = e
            guard reused else { throw HTTPError("\(req.url.hostHeader): the server closed the connection without answering", retryable: true) }
            (conn, reused) = try connection(for: req.url, fresh: true)   // a kept-alive connection the server had closed
            do { return try exchange(conn, req, maxBody: maxBody, sink: sink) } catch is StaleConnection {
                throw HTTPError("\(req.url.hostHeader): the server closed the connection without answering", retryable: true)
            }
        } catch {
            pool[req.url.origin] = nil
            throw error
        }
    }

    private struct StaleConnection: Error {}

    private func exchange(_ conn: Connection, _ req: HTTPRequest, maxBody: Int64,
                          sink: ((UnsafeRawBufferPointer) throws -> Void)?) throws -> HTTPResponse {
        var head = "\(req.method) \(req.url.target) HTTP/1.1\r\nHost: \(req.url.hostHeader)\r\nUser-Agent: kiln/\(KilnVersion.current)\r\n"
        for (k, v) in req.headers {
            guard !k.contains(where: { $0 == ":" || $0 == "\r" || $0 == "\n" }), !v.contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw HTTPError("\(req.url): refusing a header with a line break or colon in its name (\(k))")
            }
            head += "\(k): \(v)\r\n"
        }
        if req.method != "GET" && req.method != "HEAD" || req.body.length > 0 { head += "Content-Length: \(req.body.length)\r\n" }
        head += "\r\n"
        do {
            try conn.write(Data(head.utf8))
            try writeBody(req.body, to: conn)
        } catch let e as HTTPError where e.retryable { pool[req.url.origin] = nil; throw StaleConnection() }
        // Status line (skipping 1xx interim answers).
        var status = 0
        var headers: [(String, String)] = []
        var version = ""
        repeat {
            guard let line = try conn.readLine(limit: options.maxHeaderBytes) else { pool[req.url.origin] = nil; throw StaleConnection() }
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let s = Int(parts[1]), (100...599).contains(s) else {
                throw HTTPError("\(req.url.hostHeader) did not answer with HTTP (got \(line.prefix(60).debugDescription)); is it a registry, and TLS vs plain right?")
            }
            version = String(parts[0]); status = s
            headers = try readHeaders(conn, url: req.url)
        } while status < 200
        var resp = HTTPResponse(status: status, headers: headers, body: Data(), url: req.url)
        let keepAlive = version == "HTTP/1.1" && resp.header("Connection")?.lowercased() != "close"
        let noBody = req.method == "HEAD" || status == 204 || status == 304
        if !noBody {
            let stream = (200..<300).contains(status) ? sink : nil
            let limit = stream == nil && !(200..<300).contains(status) ? min(maxBody, 1 << 20) : maxBody
            var collected = Data()
            let write: (UnsafeRawBufferPointer) throws -> Void = stream ?? { collected.append(contentsOf: $0) }
            if resp.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
                try readChunked(conn, url: req.url, limit: limit, write)
            } else if let cl = resp.header("Content-Length") {
                guard let n = Int64(cl.trimmingCharacters(in: .whitespaces)), n >= 0 else { throw HTTPError("\(req.url): bad Content-Length \(cl)") }
                guard n <= limit else { throw HTTPError("\(req.url): the body is \(n) bytes, more than the \(limit) allowed here") }
                try readExactly(conn, n, url: req.url, write)
            } else {
                try readToEnd(conn, url: req.url, limit: limit, write)
                pool[req.url.origin] = nil
            }
            resp.body = collected
        }
        if !keepAlive { pool[req.url.origin] = nil }
        return resp
    }

    private func writeBody(_ body: HTTPBody, to conn: Connection) throws {
        switch body {
        case .none: return
        case let .data(d): try conn.write(d)
        case let .file(path, size): try writeBody(.fileRange(path: path, offset: 0, length: size), to: conn)
        case let .fileRange(path, offset, size):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw HTTPError("\(path): cannot open: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard lseek(fd, off_t(offset), SEEK_SET) == off_t(offset) else { throw HTTPError("\(path): cannot seek to \(offset)") }
            let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buf.deallocate() }
            var sent: Int64 = 0
            while sent < size {
                let n = read(fd, buf.baseAddress, min(buf.count, Int(size - sent)))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw HTTPError("\(path): ended after \(sent) of \(size) bytes while uploading") }
                try conn.write(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
                sent += Int64(n)
            }
        }
    }

    private func readHeaders(_ conn: Connection, url: HTTPURL) throws -> [(String, String)] {
        var out: [(String, String)] = []
        var total = 0
        while true {
            guard let line = try conn.readLine(limit: options.maxHeaderBytes) else { throw HTTPError("\(url.hostHeader): connection closed in the headers") }
            if line.isEmpty { return out }
            total += line.utf8.count
            guard total <= options.maxHeaderBytes, out.count < 256 else {
                throw HTTPError("\(url): the response headers exceed \(options.maxHeaderBytes) bytes / 256 lines")
            }
            guard let c = line.firstIndex(of: ":") else { throw HTTPError("\(url): malformed header line \(line.prefix(60).debugDescription)") }
            out.append((String(line[..<c]).trimmingCharacters(in: .whitespaces), String(line[line.index(after: c)...]).trimmingCharacters(in: .whitespaces)))
        }
    }

    private func readExactly(_ conn: Connection, _ n: Int64, url: HTTPURL, _ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        var left = n
        while left > 0 {
            let got = try conn.readSome(max: Int(min(left, 1 << 20)), write)
            guard got > 0 else { throw HTTPError("\(url): the body ended after \(n - left) of the \(n) bytes announced", retryable: false) }
            left -= Int64(got)
        }
    }

    private func readToEnd(_ conn: Connection, url: HTTPURL, limit: Int64, _ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        var total: Int64 = 0
        while true {
            let got = try conn.readSome(max: 1 << 20, write)
            if got == 0 { return }
            total += Int64(got)
            guard total <= limit else { throw HTTPError("\(url): the body is longer than the \(limit) bytes allowed here") }
        }
    }

    private func readChunked(_ conn: Connection, url: HTTPURL, limit: Int64, _ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        var total: Int64 = 0
        while true {
            guard let line = try conn.readLine(limit: 1024) else { throw HTTPError("\(url): the chunked body ended early") }
            let hex = line.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard let size = Int64(hex, radix: 16), size >= 0, hex.count <= 15 else { throw HTTPError("\(url): bad chunk size \(line.prefix(40).debugDescription)") }
            if size == 0 {
                while let t = try conn.readLine(limit: options.maxHeaderBytes), !t.isEmpty {}   // trailers
                return
            }
            total += size
            guard total <= limit else { throw HTTPError("\(url): the body is longer than the \(limit) bytes allowed here") }
            try readExactly(conn, size, url: url, write)
            guard (try? conn.readLine(limit: 2)) == "" else { throw HTTPError("\(url): malformed chunked body (no CRLF after a chunk)") }
        }
    }
}
