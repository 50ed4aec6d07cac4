import Foundation
import KilnCore
import KilnCrypto
import KilnOCI
import KilnTestSupport
import XCTest
@testable import KilnRegistry

/// A minimal in-memory registry of our own for the branches Debian's registry cannot show: Bearer
/// tokens from a token service (per-repository scopes), the OCI 1.1 referrers API with `OCI-Subject`,
/// and blob downloads redirected to another origin (credentials must not follow).
final class MiniRegistry: @unchecked Sendable {
    let lock = NSLock()
    var blobs: [String: Data] = [:]
    var manifests: [String: (Data, String)] = [:]
    var referrersAPI: Bool
    var bearer: Bool
    var scopes: [String] = []
    var storage: StubServer?
    var server: StubServer!

    init(_ t: XCTestCase, referrersAPI: Bool, bearer: Bool, redirectBlobs: Bool) throws {
        self.referrersAPI = referrersAPI; self.bearer = bearer
        if redirectBlobs {
            storage = try StubServer(t) { [unowned self] r in
                let d = String(r.path.dropFirst("/storage/".count))
                return self.locked { self.blobs[d] }.map { .response(200, [], $0) } ?? .response(404, [], Data())
            }
        }
        server = try StubServer(t) { [unowned self] r in self.handle(r) }
    }

    func locked<T>(_ f: () -> T) -> T { lock.lock(); defer { lock.unlock() }; return f() }
    var address: String { "127.0.0.1:\(server.port)" }

    func handle(_ r: StubRequest) -> StubReply {
        if r.path == "/token" {
            guard r.headers["authorization"] == "Basic " + Data("alice:pw".utf8).base64EncodedString() else { return .response(401, [], Data()) }
            locked { scopes.append(r.query["scope"] ?? "") }
            return .response(200, [("Content-Type", "application/json")], Data(#"{"token":"tok-\#(r.query["scope"]!.contains("push") ? "rw" : "ro")"}"#.utf8))
        }
        if bearer {
            let auth = r.headers["authorization"] ?? ""
            let ok = auth == "Bearer tok-rw" || (auth == "Bearer tok-ro" && (r.method == "GET" || r.method == "HEAD"))
            if !ok {
                let repo = r.path.split(separator: "/").dropFirst(1).prefix(2).joined(separator: "/")
                return .response(401, [("WWW-Authenticate", #"Bearer realm="http://\#(address)/token",service="mini",scope="repository:\#(repo):pull""#)], Data())
            }
        }
        let parts = r.path.split(separator: "/").map(String.init)   // v2, ns, name, kind, ref...
        guard parts.count >= 5, parts[0] == "v2" else { return .response(200, [], Data("{}".utf8)) }
        let kind = parts[3], ref = parts[4...].joined(separator: "/")
        switch (r.method, kind) {
        case ("HEAD", "blobs"):
            return locked { blobs[ref] }.map { .response(200, [("Content-Length", "\($0.count)"), ("Docker-Content-Digest", ref)], Data()) } ?? .response(404, [], Data())
        case ("GET", "blobs"):
            if let s = storage { return .response(307, [("Location", "http://127.0.0.1:\(s.port)/storage/\(ref)")], Data()) }
            return locked { blobs[ref] }.map { .response(200, [], $0) } ?? .response(404, [], Data())
        case ("POST", "blobs"):
            return .response(202, [("Location", "/v2/\(parts[1])/\(parts[2])/blobs/uploads/u1?state=x")], Data())
        case ("PUT", "blobs"):
            let d = r.query["digest"] ?? ""
            guard (try? "sha256:" + Digest.sha256Hex(r.body)) == d else { return .response(400, [], Data("DIGEST_INVALID".utf8)) }
            locked { blobs[d] = r.body }
            return .response(201, [("Docker-Content-Digest", d)], Data())
        case ("HEAD", "manifests"), ("GET", "manifests"):
            guard let (b, mt) = locked({ manifests[ref] }) else { return .response(404, [], Data()) }
            let d = "sha256:" + ((try? Digest.sha256Hex(b)) ?? "")
            return .response(200, [("Content-Type", mt), ("Docker-Content-Digest", d), ("Content-Length", "\(b.count)")], r.method == "HEAD" ? Data() : b)
        case ("PUT", "manifests"):
            let d = "sha256:" + ((try? Digest.sha256Hex(r.body)) ?? "")
            locked { manifests[ref] = (r.body, r.headers["content-type"] ?? ""); manifests[d] = (r.body, r.headers["content-type"] ?? "") }
            var h = [("Docker-Content-Digest", d)]
            if referrersAPI, let j = try? JSON.parse(r.body), let s = j["subject"]?["digest"]?.string { h.append(("OCI-Subject", s)) }
            return .response(201, h, Data())
        case ("GET", "referrers"):
            guard referrersAPI else { return .response(404, [], Data("404 page not found".utf8)) }
            let list: [JSON] = locked {
                manifests.filter { $0.key.hasPrefix("sha256:") }.sorted { $0.key < $1.key }.compactMap { k, v in
                    guard let j = try? JSON.parse(v.0), j["subject"]?["digest"]?.string == ref else { return nil }
                    return OCIDescriptor(mediaType: v.1, digest: k, size: Int64(v.0.count), artifactType: j["artifactType"]?.string).json
                }
            }
            return .response(200, [("Content-Type", OCIMediaType.imageIndex)],
                             JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)), ("manifests", .array(list))]).compact())
        default:
            return .response(405, [], Data())
        }
    }
}

final class StubRegistryTests: XCTestCase {
    func options(_ creds: RegistryCredentials?) -> RegistryOptions {
        var o = RegistryOptions()
        o.http.insecureLoopback = true
        o.http.timeout = 5
        o.credentials = creds
        return o
    }

    /// Bearer: the challenge leads to the token service with the repository's push scope; pull with a
    /// read-only token. The referrers API branch: the stub answers OCI-Subject, so no fallback tag is
    /// written, and pull finds the signatures through GET /referrers. Blob GETs redirected to another
    /// origin arrive there without the Authorization header. The pulled layout verifies.
    func testBearerReferrersAPIAndCrossOriginRedirect() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-stubreg")
        let keys = try ImageFixture.keys(dir)
        let digest = try ImageFixture.make(layout: dir + "/src", tag: "v1", payload: "stub", signWith: keys.key)
        let reg = try MiniRegistry(self, referrersAPI: true, bearer: true, redirectBlobs: true)
        let alice = RegistryCredentials(user: "alice", password: "pw")

        XCTAssertThrowsError(try RegistryPush.push(layout: dir + "/src", tag: "v1", to: try .parse("\(reg.address)/kiln/app:v1"), options: options(nil))) {
            XCTAssertTrue("\($0)".contains("token service"), "\($0)")
        }
        let r = try RegistryPush.push(layout: dir + "/src", tag: "v1", to: try .parse("\(reg.address)/kiln/app:v1"), options: options(alice))
        XCTAssertEqual(r.digest, digest)
        XCTAssertTrue(reg.locked { reg.scopes }.contains("repository:kiln/app:pull,push"), "\(reg.locked { reg.scopes })")
        XCTAssertFalse(r.tags.contains { $0 == CosignTag.referrersFallback(for: digest) }, "no fallback tag when the registry indexes referrers")
        let referrers = reg.locked { reg.manifests.values.filter { (try? JSON.parse($0.0))?["subject"]?["digest"]?.string == digest }.count }
        XCTAssertEqual(referrers, 2)

        // Remove the .sig/.att tags: pull must find them through the referrers API alone.
        reg.locked {
            reg.manifests[CosignTag.signature(for: digest)] = nil
            reg.manifests[CosignTag.attestation(for: digest)] = nil
        }
        let progress = LockedValue<[String]>([])
        var o = options(alice)
        o.progress = { l in progress.withLock { $0.append(l) } }
        let p = try RegistryPull.pull(try .parse("\(reg.address)/kiln/app@\(digest)"), into: dir + "/pulled", options: o)
        let lines = progress.value
        XCTAssertEqual(p.digest, digest)
        XCTAssertTrue(lines.contains { $0.contains("found through the referrers API") }, lines.joined(separator: "\n"))
        let storageRequests = reg.storage!.requests
        XCTAssertFalse(storageRequests.isEmpty)
        XCTAssertTrue(storageRequests.allSatisfy { $0.headers["authorization"] == nil }, "credentials followed a redirect to another origin")
        XCTAssertTrue(reg.locked { reg.scopes }.contains("repository:kiln/app:pull"))
        let v = try TestSupport.kiln(["verify", dir + "/pulled", "--key", keys.pub])
        XCTAssertEqual(v.status, 0, v.out + v.err)
    }

    /// No referrers API (404): push writes the fallback index at sha256-<hex>; pull reads it.
    func testReferrersFallbackTag() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-stubreg")
        let keys = try ImageFixture.keys(dir)
        let digest = try ImageFixture.make(layout: dir + "/src", tag: "v1", payload: "fallback", signWith: keys.key)
        let reg = try MiniRegistry(self, referrersAPI: false, bearer: false, redirectBlobs: false)
        let r = try RegistryPush.push(layout: dir + "/src", tag: nil, to: try .parse("\(reg.address)/kiln/app:v1"), options: options(nil))
        XCTAssertTrue(r.tags.contains(CosignTag.referrersFallback(for: digest)), "\(r.tags)")
        let fallback = try JSON.parse(reg.locked { reg.manifests[CosignTag.referrersFallback(for: digest)]!.0 })
        XCTAssertEqual(fallback["manifests"]?.array?.count, 2)
        let again = try RegistryPush.push(layout: dir + "/src", tag: nil, to: try .parse("\(reg.address)/kiln/app:v1"), options: options(nil))
        XCTAssertEqual(again.uploaded, 0); XCTAssertEqual(again.manifestsPushed, 0); XCTAssertEqual(again.tags, [])
        reg.locked { reg.manifests[CosignTag.signature(for: digest)] = nil; reg.manifests[CosignTag.attestation(for: digest)] = nil }
        let progress = LockedValue<[String]>([])
        var o = options(nil)
        o.progress = { l in progress.withLock { $0.append(l) } }
        _ = try RegistryPull.pull(try .parse("\(reg.address)/kiln/app:v1"), into: dir + "/pulled", options: o)
        let lines = progress.value
        XCTAssertTrue(lines.contains { $0.contains("found through the fallback tag") }, lines.joined(separator: "\n"))
        XCTAssertEqual(try TestSupport.kiln(["verify", dir + "/pulled:v1", "--key", keys.pub]).status, 0)
    }

    /// An index (both variants): push sends children first; pull fetches every variant and their signatures; verify passes.
    func testIndexRoundTrip() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-stubreg")
        let keys = try ImageFixture.keys(dir)
        let a = try ImageFixture.make(layout: dir + "/src", tag: "std", payload: "std", signWith: nil)
        let b = try ImageFixture.make(layout: dir + "/src", tag: "fips", payload: "fips", signWith: nil)
        let layout = try OCILayout(path: dir + "/src")
        var children: [JSON] = []
        for (d, arch) in [(a, "amd64"), (b, "arm64")] {
            var desc = try layout.resolve(d)
            desc.annotations = [:]
            desc.platform = OCIPlatform(architecture: arch, os: "linux")
            children.append(desc.json)
        }
        let index = try layout.writeBlob(JSON.object([("schemaVersion", 2), ("mediaType", .string(OCIMediaType.imageIndex)),
                                                      ("manifests", .array(children))]).compact(), mediaType: OCIMediaType.imageIndex)
        try layout.setTag("multi", to: index)
        let sign = try TestSupport.kiln(["sign", dir + "/src:multi", "--key", keys.key, "--sbom-dir", dir + "/sbom"])
        XCTAssertEqual(sign.status, 0, sign.err)
        let reg = try MiniRegistry(self, referrersAPI: false, bearer: false, redirectBlobs: false)
        let r = try RegistryPush.push(layout: dir + "/src", tag: "multi", to: try .parse("\(reg.address)/kiln/multi:1"), options: options(nil))
        XCTAssertEqual(r.digest, index.digest)
        XCTAssertTrue(r.tags.contains(CosignTag.signature(for: a)) && r.tags.contains(CosignTag.attestation(for: b)), "\(r.tags)")
        let p = try RegistryPull.pull(try .parse("\(reg.address)/kiln/multi:1"), into: dir + "/pulled", options: options(nil))
        XCTAssertEqual(p.digest, index.digest)
        XCTAssertEqual(try OCILayout(path: dir + "/pulled").imageManifests(of: try OCILayout(path: dir + "/pulled").resolve("1")).map(\.digest), [a, b])
        let v = try TestSupport.kiln(["verify", dir + "/pulled:1", "--key", keys.pub])
        XCTAssertEqual(v.status, 0, v.out + v.err)
    }

    /// `kiln push --all` / `kiln nightly --push`: layout tags NAME:TAG go to PREFIX/NAME:TAG (kiln image's tag form).
    func testPublishLayout() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-stubreg")
        let keys = try ImageFixture.keys(dir)
        let a = try ImageFixture.make(layout: dir + "/imgs", tag: "hello:1.0-r0", payload: "a", signWith: keys.key)
        let b = try ImageFixture.make(layout: dir + "/imgs", tag: "hello:1.0-r0-fips", payload: "b", signWith: keys.key)
        let reg = try MiniRegistry(self, referrersAPI: false, bearer: false, redirectBlobs: false)
        let out = try RegistryPush.publish(layout: dir + "/imgs", prefix: "\(reg.address)/team", options: options(nil))
        XCTAssertEqual(out.map { "\($0.0)" }.sorted(), ["\(reg.address)/team/hello:1.0-r0", "\(reg.address)/team/hello:1.0-r0-fips"])
        XCTAssertEqual(Set(out.map(\.1.digest)), [a, b])
        XCTAssertNotNil(reg.locked { reg.manifests["1.0-r0-fips"] })
        XCTAssertThrowsError(try RegistryPush.publish(layout: dir + "/imgs", prefix: "\(reg.address)/team:x", options: options(nil)))
    }
}
