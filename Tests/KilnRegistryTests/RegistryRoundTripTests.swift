import Foundation
import KilnTestSupport
import XCTest

/// kiln push / pull / verify against Debian's real docker-registry on loopback, cross-checked with skopeo.
final class RegistryRoundTripTests: XCTestCase {
    func kiln(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        var e = ProcessInfo.processInfo.environment
        e["KILN_REGISTRY_USER"] = nil; e["KILN_REGISTRY_PASSWORD"] = nil; e["DOCKER_CONFIG"] = "/nonexistent"
        for (k, v) in env { e[k] = v }
        return try TestSupport.kiln(args, environment: e)
    }

    /// Plain HTTP (--insecure-loopback): push, idempotent re-push, skopeo sees the same digests,
    /// pull into a fresh layout, verify it and the remote digest; then tampering is caught.
    func testPlainHTTPRoundTripAndTampering() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-reg")
        let reg = try LocalRegistry(self, dir: dir)
        let keys = try ImageFixture.keys(dir)
        let digest = try ImageFixture.make(layout: dir + "/src", tag: "v1", payload: "one", signWith: keys.key)
        let dest = "\(reg.address)/kiln/hello:v1"

        // Without --insecure-loopback kiln refuses to talk plain HTTP (it tries TLS and says why it failed).
        let refused = try kiln(["push", dir + "/src:v1", dest])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("--insecure-loopback"), refused.err)

        let first = try kiln(["push", dir + "/src:v1", dest, "--insecure-loopback"])
        XCTAssertEqual(first.status, 0, first.err)
        XCTAssertTrue(first.out.contains(digest), first.out)
        XCTAssertTrue(first.out.contains("uploaded"), first.out)
        XCTAssertTrue(first.out.contains("tag sha256-\(digest.dropFirst(7)).sig"), first.out)
        XCTAssertTrue(first.out.contains("tag sha256-\(digest.dropFirst(7)).att"), first.out)
        // docker-registry has no referrers API: the referrers go into the fallback index at sha256-<hex>.
        XCTAssertTrue(first.out.contains("tag sha256-\(digest.dropFirst(7)) (referrers fallback index, 2 referrer(s))"), first.out)
        let second = try kiln(["push", dir + "/src:v1", dest, "--insecure-loopback"])
        XCTAssertEqual(second.status, 0, second.err)
        XCTAssertTrue(second.out.contains("pushed \(dest) \(digest): 0 blob(s) uploaded (0 bytes)"), second.out)
        XCTAssertFalse(second.out.contains(": uploaded"), second.out)
        XCTAssertTrue(second.out.contains("0 manifest(s) pushed"), second.out)

        // Cross-repository mount, and a chunked upload (PATCH ranges) of a blob that is not there yet.
        let mounted = try kiln(["push", dir + "/src:v1", "\(reg.address)/kiln/mirror:v1", "--insecure-loopback", "--mount-from", "kiln/hello"])
        XCTAssertEqual(mounted.status, 0, mounted.err)
        XCTAssertTrue(mounted.out.contains("mounted from kiln/hello") && !mounted.out.contains(": uploaded"), mounted.out)
        try ImageFixture.make(layout: dir + "/big", tag: "v1", payload: "chunks", layerBytes: 300_000, signWith: nil)
        let chunked = try kiln(["push", dir + "/big:v1", "\(reg.address)/kiln/big:v1", "--insecure-loopback", "--chunk-size", "65536"])
        XCTAssertEqual(chunked.status, 0, chunked.err)
        XCTAssertTrue(chunked.out.contains("chunks ("), chunked.out)
        XCTAssertEqual(try kiln(["pull", "\(reg.address)/kiln/big:v1", dir + "/big-pulled", "--insecure-loopback"]).status, 0)

        // A third-party client sees the same manifest digest, and copies it to an identical layout.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") {
            let inspect = try TestSupport.run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--raw", "docker://\(dest)"])
            XCTAssertEqual(inspect.status, 0, inspect.err)
            XCTAssertEqual("sha256:" + (try sha256(Data(inspect.out.utf8))), digest)
            let copy = try TestSupport.run("/usr/bin/skopeo", ["copy", "--src-tls-verify=false", "docker://\(dest)", "oci:\(dir)/skopeo:v1"])
            XCTAssertEqual(copy.status, 0, copy.err)
            let idx = try String(contentsOfFile: dir + "/skopeo/index.json", encoding: .utf8)
            XCTAssertTrue(idx.contains(digest), idx)
            // skopeo reads kiln's sha256-<hex>.sig as a sigstore attachment and copies it along.
            try FileManager.default.createDirectory(atPath: dir + "/registries.d", withIntermediateDirectories: true)
            try Data("docker:\n  \(reg.address):\n    use-sigstore-attachments: true\n".utf8).write(to: URL(fileURLWithPath: dir + "/registries.d/kiln.yaml"))
            let sig = try TestSupport.run("/usr/bin/skopeo", ["--registries.d", dir + "/registries.d", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                                                             "docker://\(dest)", "docker://\(reg.address)/kiln/copied:v1"])
            XCTAssertEqual(sig.status, 0, sig.err)
            let tags = try TestSupport.run("/usr/bin/skopeo", ["list-tags", "--tls-verify=false", "docker://\(reg.address)/kiln/copied"])
            XCTAssertTrue(tags.out.contains("sha256-\(digest.dropFirst(7)).sig"), tags.out)
        }

        // Pull back and verify offline; verify the registry reference directly.
        let pull = try kiln(["pull", dest, dir + "/pulled", "--insecure-loopback"])
        XCTAssertEqual(pull.status, 0, pull.err)
        let v = try kiln(["verify", dir + "/pulled:v1", "--key", keys.pub])
        XCTAssertEqual(v.status, 0, v.out + v.err)
        let remote = try kiln(["verify", "\(reg.address)/kiln/hello@\(digest)", "--key", keys.pub, "--insecure-loopback"])
        XCTAssertEqual(remote.status, 0, remote.out + remote.err)
        XCTAssertTrue(remote.out.contains("verified"), remote.out)
        // Pulling into an existing directory is refused.
        XCTAssertNotEqual(try kiln(["pull", dest, dir + "/pulled", "--insecure-loopback"]).status, 0)

        // Tamper 1: another (unsigned) manifest re-tagged as v1 → verify by tag fails naming its digest.
        let other = try ImageFixture.make(layout: dir + "/other", tag: "v1", payload: "two", signWith: nil)
        XCTAssertEqual(try kiln(["push", dir + "/other:v1", dest, "--insecure-loopback"]).status, 0)
        let retagged = try kiln(["verify", dest, "--key", keys.pub, "--insecure-loopback"])
        XCTAssertNotEqual(retagged.status, 0)
        XCTAssertTrue((retagged.out + retagged.err).contains(String(other.dropFirst(7))), retagged.out + retagged.err)
        // …while the signed digest still verifies.
        XCTAssertEqual(try kiln(["verify", "\(reg.address)/kiln/hello@\(digest)", "--key", keys.pub, "--insecure-loopback"]).status, 0)

        // Tamper 2: a layer replaced in the registry's storage → pull fails naming the blob, leaves no layout.
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/src/blobs/sha256/\(digest.dropFirst(7))"))) as! [String: Any]
        let layer = ((manifest["layers"] as! [[String: Any]])[0]["digest"] as! String)
        let data = reg.blobDataPath(layer)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: data))
        let bad = try kiln(["pull", "\(reg.address)/kiln/hello@\(digest)", dir + "/tampered", "--insecure-loopback"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains(layer), bad.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/tampered"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("kiln-pull") }, [])
        let badVerify = try kiln(["verify", "\(reg.address)/kiln/hello@\(digest)", "--key", keys.pub, "--insecure-loopback"])
        XCTAssertNotEqual(badVerify.status, 0)
        XCTAssertTrue(badVerify.err.contains(layer), badVerify.err)
    }
}

func sha256(_ d: Data) throws -> String {
    let tmp = NSTemporaryDirectory() + "kiln-sha-\(UUID().uuidString)"
    try d.write(to: URL(fileURLWithPath: tmp))
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    return String(try TestSupport.run("/usr/bin/sha256sum", [tmp]).out.prefix(64))
}
