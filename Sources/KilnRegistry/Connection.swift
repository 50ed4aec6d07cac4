import Foundation
import KilnCore
import KilnCrypto

/// Transport errors: each names the host and says what happened.
public struct HTTPError: KilnError, Equatable {
    /// The message.
    public var message: String
    /// True when retrying the request may help (connection reset, timeout while connecting).
    public var retryable: Bool
    /// An error with `message`.
    public init(_ message: String, retryable: Bool = false) { self.message = message; self.retryable = retryable }
    public var description: String { message }
}

/// True for 127.0.0.0/8, ::1 and `localhost` — the only hosts kiln talks plain HTTP to.
public func isLoopbackHost(_ host: String) -> Bool {
    if host == "localhost" || host == "::1" || host == "[::1]" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
}

/// A connected TCP socket, optionally wrapped in TLS. Every read and write is bounded by `timeout`.
final class Connection {
    let fd: Int32
    let tls: TLSConnection?
    let host: String
    let port: Int
    let timeout: Double
    private var buffer = [UInt8]()
    private var start = 0
    private var scratch = [UInt8](repeating: 0, count: 256 * 1024)

    /// Connects to `host:port` (each address getaddrinfo gives, in turn) within `timeout` seconds, then
    /// performs the TLS handshake when `tls` is given.
    init(host: String, port: Int, tls: TLSContext?, timeout: Double) throws {
        self.host = host; self.port = port; self.timeout = timeout
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let h = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let rc = getaddrinfo(h, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw HTTPError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))", retryable: rc == EAI_AGAIN)
        }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var connected: Int32 = -1
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai, connected < 0 {
            ai = a.pointee.ai_next
            let s = socket(a.pointee.ai_family, a.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), a.pointee.ai_protocol)
            if s < 0 { lastError = String(cString: strerror(errno)); continue }
            let flags = fcntl(s, F_GETFL)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            var r = Glibc.connect(s, a.pointee.ai_addr, a.pointee.ai_addrlen)
            if r != 0 && errno == EINPROGRESS {
                var p = pollfd(fd: s, events: Int16(POLLOUT), revents: 0)
                let n = poll(&p, 1, Int32(timeout * 1000))
                if n == 0 { lastError = "no answer within \(timeout) s"; close(s); continue }
                var soErr: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(s, SOL_SOCKET, SO_ERROR, &soErr, &len)
                r = soErr == 0 && n > 0 ? 0 : -1
                if r != 0 { errno = soErr }
            }
            if r != 0 { lastError = String(cString: strerror(errno)); close(s); continue }
            _ = fcntl(s, F_SETFL, flags)
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            connected = s
        }
        guard connected >= 0 else { throw HTTPError("cannot connect to \(host):\(port): \(lastError)", retryable: true) }
        fd = connected
        do { self.tls = try tls.map { try TLSConnection(fd: connected, host: h, context: $0, timeout: timeout) } } catch {
            close(connected); throw error
        }
    }

    deinit {
        tls?.shutdown()
        close(fd)
    }

    /// Reads what is available into the buffer; 0 = end of stream.
    private func fill() throws -> Int {
        if start > 0 && start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
        let n: Int = try scratch.withUnsafeMutableBytes { p in
            if let tls { return try tls.read(into: p.baseAddress!, count: p.count) }
            while true {
                let r = recv(fd, p.baseAddress, p.count, 0)
                if r >= 0 { return r }
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw HTTPError("\(host): no data within \(timeout) s") }
                throw HTTPError("\(host): read failed: \(String(cString: strerror(errno)))", retryable: errno == ECONNRESET)
            }
        }
        buffer.append(contentsOf: scratch[0..<n])
        return n
    }

    /// A CRLF- (or LF-) terminated line without its terminator; at most `limit` bytes.
    func readLine(limit: Int) throws -> String? {
        var scanned = 0   // bytes after `start` already searched (fill() may move `start`)
        while true {
            if let i = buffer[(start + scanned)...].firstIndex(of: 0x0A) {
                var end = i
                if end > start && buffer[end - 1] == 0x0D { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = i + 1
                return line
            }
            scanned = buffer.count - start
            if buffer.count - start > limit { throw HTTPError("\(host): a header line is longer than \(limit) bytes") }
            if try fill() == 0 {
                if buffer.count == start { return nil }
                throw HTTPError("\(host): connection closed in the middle of a line")
            }
        }
    }

    /// Up to `max` bytes (at least 1 unless the stream ended).
    func readSome(max: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        if start == buffer.count { if try fill() == 0 { return 0 } }
        let n = min(max, buffer.count - start)
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<start + n])) }
        start += n
        return n
    }

    /// Writes every byte.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        if let tls { return try tls.write(base, count: bytes.count) }
        var off = 0
        while off < bytes.count {
            let r = send(fd, base + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            if r < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw HTTPError("\(host): cannot send within \(timeout) s") }
                throw HTTPError("\(host): write failed: \(String(cString: strerror(errno)))", retryable: errno == ECONNRESET || errno == EPIPE)
            }
            off += r
        }
    }

    func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }
}
