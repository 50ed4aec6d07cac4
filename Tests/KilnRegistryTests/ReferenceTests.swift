import Foundation
import XCTest
@testable import KilnRegistry

/// Parsing of what users and registries hand kiln: references, URLs, challenges, credentials.
final class ReferenceTests: XCTestCase {
    func testReferences() throws {
        let r = try RegistryReference.parse("127.0.0.1:5000/kiln/hello:1.0")
        XCTAssertEqual(r, RegistryReference(registry: "127.0.0.1:5000", repository: "kiln/hello", tag: "1.0"))
        let d = "sha256:" + String(repeating: "a", count: 64)
        XCTAssertEqual(try RegistryReference.parse("ghcr.io/acme/app@\(d)").digest, d)
        XCTAssertEqual(try RegistryReference.parse("localhost/x").tag, nil)
        for bad in ["hello", "noregistry/repo", "r.io/UPPER", "r.io/a//b", "r.io/a:-bad", "r.io/a@sha256:zz", "r.io/a@md5:00"] {
            XCTAssertThrowsError(try RegistryReference.parse(bad), bad)
        }
        XCTAssertTrue(RegistryReference.looksLikeReference("127.0.0.1:5000/a@\(d)"))
        XCTAssertFalse(RegistryReference.looksLikeReference("out/images/hello"))
        XCTAssertFalse(RegistryReference.looksLikeReference("/abs/path"))
    }

    func testURLs() throws {
        let u = try HTTPURL(parsing: "https://Reg.example:8443/v2/a/blobs/uploads/x?_state=1")
        XCTAssertEqual(u.host, "reg.example"); XCTAssertEqual(u.port, 8443); XCTAssertEqual(u.target, "/v2/a/blobs/uploads/x?_state=1")
        XCTAssertEqual(try u.resolving("/v2/b").description, "https://reg.example:8443/v2/b")
        XCTAssertEqual(try u.resolving("http://127.0.0.1/x").origin, "http://127.0.0.1:80")
        XCTAssertEqual(u.appendingQuery("digest=sha256:1").target, "/v2/a/blobs/uploads/x?_state=1&digest=sha256:1")
        for bad in ["ftp://x/", "https://user@host/", "https://h:99999/", "https:///x", "https://h/a b"] {
            XCTAssertThrowsError(try HTTPURL(parsing: bad), bad)
        }
        XCTAssertThrowsError(try u.resolving("//evil/x"))
        XCTAssertTrue(isLoopbackHost("127.0.0.1")); XCTAssertTrue(isLoopbackHost("127.3.4.5")); XCTAssertTrue(isLoopbackHost("localhost"))
        XCTAssertFalse(isLoopbackHost("128.0.0.1")); XCTAssertFalse(isLoopbackHost("127.0.0.1.evil.com"))
    }

    func testChallenge() {
        let (s, p) = RegistryClient.parseChallenge(#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#)
        XCTAssertEqual(s, "bearer")
        XCTAssertEqual(p["realm"], "https://auth.example/token"); XCTAssertEqual(p["service"], "registry.example")
        XCTAssertEqual(p["scope"], "repository:a/b:pull,push")
        XCTAssertEqual(RegistryClient.parseChallenge(#"Basic realm="Registry Realm""#).scheme, "basic")
    }

    func testCredentials() throws {
        let dir = try TestSupportShim.tmp(self)
        let cfg = #"{"auths":{"https://reg.example:5000/v1/":{"auth":"\#(Data("alice:s3cret:x".utf8).base64EncodedString())"},"other.io":{"username":"bob","password":"pw"}}}"#
        try Data(cfg.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        let c = try RegistryCredentials.lookup(registry: "reg.example:5000", environment: ["DOCKER_CONFIG": dir])
        XCTAssertEqual(c, RegistryCredentials(user: "alice", password: "s3cret:x"))
        XCTAssertFalse("\(c!)".contains("s3cret"))
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "other.io", environment: ["DOCKER_CONFIG": dir])?.user, "bob")
        XCTAssertNil(try RegistryCredentials.lookup(registry: "none.io", environment: ["DOCKER_CONFIG": dir]))
        XCTAssertEqual(try RegistryCredentials.lookup(registry: "none.io", environment: ["KILN_REGISTRY_USER": "u", "KILN_REGISTRY_PASSWORD": "p"])?.user, "u")
        XCTAssertThrowsError(try RegistryCredentials.lookup(registry: "x.io", environment: ["KILN_REGISTRY_USER": "u"]))
        try Data(#"{"auths":{"bad.io":{"auth":"!!"}}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try RegistryCredentials.lookup(registry: "bad.io", environment: ["DOCKER_CONFIG": dir]))
    }
}

enum TestSupportShim {
    static func tmp(_ t: XCTestCase) throws -> String {
        let p = NSTemporaryDirectory() + "kiln-reg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        t.addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }
}
