import Foundation
import KilnCrypto
import KilnOCI
import KilnTestSupport
import XCTest
@testable import KilnRegistry

/// Registries that lie or misbehave: each gets a clear error within a bounded time and no layout is left behind.
final class HostileServerTests: XCTestCase {
    func options() -> RegistryOptions {
        var o = RegistryOptions()
        o.http.insecureLoopback = true
        o.http.timeout = 3
        o.http.retries = 1
        o.http.backoff = 0.01
        o.credentials = RegistryCredentials(user: "u", password: "p")   // no environment / docker-config look-up
        return o
    }

    func pullFails(_ server: StubServer, ref: String = "kiln/x:v1", contains: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-hostile")
        let t0 = Date()
        XCTAssertThrowsError(try RegistryPull.pull(try RegistryReference.parse("127.0.0.1:\(server.port)/\(ref)"), into: dir + "/out", options: options()),
                             file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(contains), "\(e)", file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 10, file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], file: file, line: line)
    }

    func testGarbageAnswer() throws {
        let s = try StubServer(self) { _ in .raw(Data("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8)) }
        try pullFails(s, contains: "did not answer with HTTP")
    }

    /// A server that accepts and never answers: the read timeout (3 s here) ends it with a clear error.
    func testSilentServer() throws {
        let s = try StubServer(self) { _ in .silent(8) }
        try pullFails(s, contains: "no data within 3.0 s")
    }

    /// Indexes nested 12 deep (each a valid, content-addressed index of the next): refused at depth 8.
    func testDeeplyNestedIndex() throws {
        var docs: [String: Data] = [:]
        var inner = JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)), ("manifests", .array([]))]).compact()
        for _ in 0..<12 {
            let d = "sha256:" + (try Digest.sha256Hex(inner))
            docs[d] = inner
            let desc = OCIDescriptor(mediaType: OCIMediaType.imageIndex, digest: d, size: Int64(inner.count))
            inner = JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)), ("manifests", .array([desc.json]))]).compact()
        }
        docs["v1"] = inner
        let all = docs
        let s = try StubServer(self) { r in
            let ref = String(r.path.split(separator: "/").last ?? "")
            return all[ref].map { .response(200, [("Content-Type", OCIMediaType.imageIndex)], $0) } ?? .response(404, [], Data())
        }
        try pullFails(s, contains: "nested deeper than 8 levels")
    }

    func testRedirectLoop() throws {
        let s = try StubServer(self) { r in .response(302, [("Location", r.target)], Data()) }
        try pullFails(s, contains: "more than 5 redirects")
    }

    func testEndlessManifestBody() throws {
        let s = try StubServer(self) { _ in .endless("HTTP/1.1 200 OK\r\nContent-Type: \(OCIMediaType.imageManifest)\r\n\r\n") }
        try pullFails(s, contains: "longer than the 4194304 bytes")
        let chunked = try StubServer(self) { _ in .endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n") }
        try pullFails(chunked, contains: "malformed chunked body")
        let bigChunks = try StubServer(self) { _ in
            var d = Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
            for _ in 0..<80 { d.append(Data("10000\r\n".utf8)); d.append(Data(repeating: 0x20, count: 65536)); d.append(Data("\r\n".utf8)) }
            return .raw(d)
        }
        try pullFails(bigChunks, contains: "longer than the 4194304 bytes")
    }

    func testHugeHeaders() throws {
        let s = try StubServer(self) { _ in .endless("HTTP/1.1 200 OK\r\nX-Junk: ") }
        try pullFails(s, contains: "longer than 65536 bytes")
    }

    /// A manifest that is fine, then a blob whose Content-Length is larger than the body sent (connection closed),
    /// and one whose Content-Length is larger than the manifest says.
    func testLyingContentLength() throws {
        let layer = Data(repeating: 7, count: 1000)
        let cfg = Data("{}".utf8)
        func desc(_ d: Data, _ mt: String) throws -> JSON { OCIDescriptor(mediaType: mt, digest: "sha256:" + (try Digest.sha256Hex(d)), size: Int64(d.count)).json }
        let manifest = JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageManifest)),
                                    ("config", try desc(cfg, OCIMediaType.imageConfig)), ("layers", .array([try desc(layer, OCIMediaType.imageLayerGzip)]))]).compact()
        let cfgDigest = "sha256:" + (try Digest.sha256Hex(cfg))
        for mode in ["short", "oversize", "wrongbytes"] {
            let s = try StubServer(self) { r in
                if r.path.contains("/manifests/v1") { return .response(200, [("Content-Type", OCIMediaType.imageManifest)], manifest) }
                if r.path.contains("/manifests/") { return .response(404, [], Data()) }
                if r.path.hasSuffix(cfgDigest) { return .response(200, [], cfg) }
                switch mode {
                case "short": return .raw(Data("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8) + layer.prefix(400))
                case "oversize": return .response(200, [], layer + layer)
                default: return .response(200, [], Data(repeating: 8, count: 1000))
                }
            }
            try pullFails(s, contains: ["short": "ended after 400 of the 1000", "oversize": "more than the 1000 allowed",
                                        "wrongbytes": "arrived with content digest"][mode]!)
        }
    }

    /// 503 twice then success: retried with backoff; a 500 forever gives up with the status.
    func testRetriesOn5xx() throws {
        let lock = NSLock()
        var n = 0
        let s = try StubServer(self) { _ in
            lock.lock(); n += 1; let k = n; lock.unlock()
            return k <= 1 ? .response(503, [], Data("busy".utf8)) : .response(404, [], Data())
        }
        try pullFails(s, contains: "no manifest v1 (HTTP 404)")
        XCTAssertEqual(s.requests.count, 2)
        // A connection closed without an answer (reset) is retried too.
        var m = 0
        let reset = try StubServer(self) { _ in
            lock.lock(); m += 1; let k = m; lock.unlock()
            return k == 1 ? .raw(Data()) : .response(404, [], Data())
        }
        try pullFails(reset, contains: "no manifest v1 (HTTP 404)")
        XCTAssertEqual(reset.requests.count, 2)
        let always = try StubServer(self) { _ in .response(500, [], Data("boom".utf8)) }
        try pullFails(always, contains: "HTTP 500: boom")
    }

    func testPlainHTTPOnlyToLoopback() throws {
        var o = options()
        XCTAssertThrowsError(try RegistryClient(registry: "registry.example:5000", options: o)) { XCTAssertTrue("\($0)".contains("loopback")) }
        o.http.insecureLoopback = false
        let c = try HTTPClient(options: o.http)
        XCTAssertThrowsError(try c.send(HTTPRequest(method: "GET", url: try HTTPURL(parsing: "http://127.0.0.1:1/v2/")))) {
            XCTAssertTrue("\($0)".contains("--insecure-loopback"), "\($0)")
        }
        XCTAssertThrowsError(try c.send(HTTPRequest(method: "GET", url: try HTTPURL(parsing: "http://10.0.0.1/v2/")))) {
            XCTAssertTrue("\($0)".contains("plain HTTP is refused"), "\($0)")
        }
    }
}
