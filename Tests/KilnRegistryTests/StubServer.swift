import Foundation
import XCTest

/// One request as the stub saw it.
struct StubRequest {
    var method: String
    var target: String
    var headers: [String: String]   // lower-cased names
    var body: Data
    var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "") }
    var query: [String: String] {
        guard let q = target.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var out: [String: String] = [:]
        for kv in q.split(separator: "&") {
            let p = kv.split(separator: "=", maxSplits: 1).map(String.init)
            out[p[0]] = p.count > 1 ? (p[1].removingPercentEncoding ?? p[1]) : ""
        }
        return out
    }
}

/// What the stub answers.
enum StubReply {
    case response(Int, [(String, String)], Data)
    /// Raw bytes, then the connection is closed.
    case raw(Data)
    /// Say nothing for this many seconds, then close.
    case silent(Double)
    /// These header bytes, then body bytes forever (until the client goes away).
    case endless(String)
}

/// A tiny HTTP/1.1 server on a loopback port, for hostile-server and protocol-branch tests. Each
/// connection gets a thread; requests on it are answered in order by `handler`. Closed in teardown.
final class StubServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let handler: (StubRequest) -> StubReply
    private let lock = NSLock()
    private var seen: [StubRequest] = []
    var requests: [StubRequest] { lock.lock(); defer { lock.unlock() }; return seen }

    init(_ t: XCTestCase, handler: @escaping (StubRequest) -> StubReply) throws {
        self.handler = handler
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET); a.sin_port = 0; a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) == 0 && getsockname(s, $0, &len) == 0 }
        }
        guard ok, listen(s, 16) == 0 else { close(s); throw XCTSkip("cannot listen on loopback") }
        listener = s
        port = Int(UInt16(bigEndian: a.sin_port))
        let thread = Thread { [weak self] in self?.acceptLoop() }
        thread.start()
        t.addTeardownBlock { [self] in shutdown(listener, Int32(SHUT_RDWR)); close(listener) }
    }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { return }
            Thread { [self] in serve(c); close(c) }.start()
        }
    }

    private func serve(_ c: Int32) {
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = Data()
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(c, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buf.append(contentsOf: chunk[0..<n]); return true
        }
        while true {
            var headEnd: Range<Data.Index>?
            while true {
                headEnd = buf.range(of: Data("\r\n\r\n".utf8))
                if headEnd != nil { break }
                if !fill() { return }
            }
            let head = String(decoding: buf[..<headEnd!.lowerBound], as: UTF8.self)
            buf = Data(buf[headEnd!.upperBound...])
            var lines = head.components(separatedBy: "\r\n")
            let first = lines.removeFirst().split(separator: " ")
            var headers: [String: String] = [:]
            for l in lines { if let i = l.firstIndex(of: ":") { headers[l[..<i].lowercased()] = l[l.index(after: i)...].trimmingCharacters(in: .whitespaces) } }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while buf.count < length { if !fill() { return } }
            let body = Data(buf.prefix(length)); buf = Data(buf.dropFirst(length))
            let req = StubRequest(method: String(first[0]), target: String(first.count > 1 ? first[1] : "/"), headers: headers, body: body)
            lock.lock(); seen.append(req); lock.unlock()
            switch handler(req) {
            case let .response(status, hs, data):
                var h = "HTTP/1.1 \(status) X\r\n"
                for (k, v) in hs { h += "\(k): \(v)\r\n" }
                if !hs.contains(where: { $0.0.lowercased() == "content-length" }) { h += "Content-Length: \(data.count)\r\n" }
                h += "\r\n"
                var out = Data(h.utf8)
                if req.method != "HEAD" { out.append(data) }
                if !send(c, out) { return }
            case let .silent(s):
                usleep(UInt32(s * 1_000_000)); return
            case let .raw(d):
                _ = send(c, d); return
            case let .endless(h):
                if !send(c, Data(h.utf8)) { return }
                let junk = Data(repeating: 0x41, count: 65536)
                while send(c, junk) {}
                return
            }
        }
    }

    private func send(_ c: Int32, _ d: Data) -> Bool {
        d.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let n = Glibc.send(c, p.baseAddress! + off, p.count - off, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                off += n
            }
            return true
        }
    }
}
