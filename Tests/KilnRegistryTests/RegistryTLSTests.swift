import Foundation
import KilnTestSupport
import XCTest

/// TLS with a CA and server certificate made by `kiln certificate`, Basic auth from htpasswd, FIPS mode,
/// and refusals: unknown CA, wrong host name, a ChaCha20-only server under --fips.
final class RegistryTLSTests: XCTestCase {
    var fipsEnv: [String: String]? {
        let e = ProcessInfo.processInfo.environment
        guard let conf = e["KILN_TEST_FIPS_CONF"], !conf.isEmpty, let mods = e["OPENSSL_MODULES"], !mods.isEmpty else { return nil }
        return ["KILN_FIPS": "1", "OPENSSL_CONF": conf, "OPENSSL_MODULES": mods]
    }

    func kiln(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        var e = ProcessInfo.processInfo.environment
        e["KILN_REGISTRY_USER"] = nil; e["KILN_REGISTRY_PASSWORD"] = nil; e["DOCKER_CONFIG"] = "/nonexistent"; e["KILN_FIPS"] = nil
        for (k, v) in env { e[k] = v }
        return try TestSupport.kiln(args, environment: e)
    }

    func testTLSWithBasicAuthAndFIPS() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-regtls")
        let cert = try kiln(["certificate", "--out", dir + "/tls"])
        XCTAssertEqual(cert.status, 0, cert.err)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/htpasswd") else { throw XCTSkip("htpasswd (apache2-utils) is not installed") }
        let h = try TestSupport.run("/usr/bin/htpasswd", ["-Bbc", dir + "/htpasswd", "alice", "wonder-land"])
        XCTAssertEqual(h.status, 0, h.err)
        let reg = try LocalRegistry(self, dir: dir, tls: (dir + "/tls/server.crt", dir + "/tls/server.key"), htpasswd: dir + "/htpasswd")
        let keys = try ImageFixture.keys(dir)
        let digest = try ImageFixture.make(layout: dir + "/src", tag: "v1", payload: "tls", signWith: keys.key)
        let dest = "\(reg.address)/kiln/secure:v1"
        let ca = ["--ca-file", dir + "/tls/ca.crt"]
        let creds = ["KILN_REGISTRY_USER": "alice", "KILN_REGISTRY_PASSWORD": "wonder-land"]

        // Unknown CA (the system bundle does not have kiln's test CA) → refused with the reason.
        let unknown = try kiln(["push", dir + "/src:v1", dest], env: creds)
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.err.contains("not trusted") && unknown.err.contains("--ca-file"), unknown.err)
        // --insecure-loopback does not downgrade a TLS registry to plain HTTP silently: the answer is not HTTP-over-plain.
        // No credentials → a clear request for them; wrong ones → denied; none of them printed.
        let anon = try kiln(["push", dir + "/src:v1", dest] + ca)
        XCTAssertNotEqual(anon.status, 0)
        XCTAssertTrue(anon.err.contains("KILN_REGISTRY_USER"), anon.err)
        let wrong = try kiln(["push", dir + "/src:v1", dest] + ca, env: ["KILN_REGISTRY_USER": "alice", "KILN_REGISTRY_PASSWORD": "nope-secret"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.err.contains("denied"), wrong.err)
        XCTAssertFalse((wrong.out + wrong.err).contains("nope-secret"))

        // Credentials from a docker config file (base64 user:password).
        try FileManager.default.createDirectory(atPath: dir + "/docker", withIntermediateDirectories: true)
        let auth = Data("alice:wonder-land".utf8).base64EncodedString()
        try Data(#"{"auths":{"\#(reg.address)":{"auth":"\#(auth)"}}}"#.utf8).write(to: URL(fileURLWithPath: dir + "/docker/config.json"))
        let push = try kiln(["push", dir + "/src:v1", dest] + ca, env: ["DOCKER_CONFIG": dir + "/docker"])
        XCTAssertEqual(push.status, 0, push.err)
        XCTAssertFalse((push.out + push.err).contains("wonder-land"))
        let again = try kiln(["push", dir + "/src:v1", dest] + ca, env: creds)
        XCTAssertTrue(again.out.contains("0 blob(s) uploaded"), again.out + again.err)

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") {
            let inspect = try TestSupport.run("/usr/bin/skopeo", ["inspect", "--tls-verify=false", "--creds", "alice:wonder-land", "docker://\(dest)"])
            XCTAssertEqual(inspect.status, 0, inspect.err)
            XCTAssertTrue(inspect.out.contains(digest), inspect.out)
        }

        // FIPS mode: the same TLS registry, handshake and record layer from the FIPS provider only.
        if let fips = fipsEnv {
            var env = creds; for (k, v) in fips { env[k] = v }
            let pull = try kiln(["pull", dest, dir + "/pulled-fips"] + ca, env: env)
            XCTAssertEqual(pull.status, 0, pull.err)
            XCTAssertTrue(pull.out.contains("TLSv1.3") && pull.out.contains("from the OpenSSL FIPS provider"), pull.out)
            let verify = try kiln(["verify", "\(reg.address)/kiln/secure@\(digest)", "--key", keys.pub] + ca, env: env)
            XCTAssertEqual(verify.status, 0, verify.out + verify.err)
        } else {
            let pull = try kiln(["pull", dest, dir + "/pulled"] + ca, env: creds)
            XCTAssertEqual(pull.status, 0, pull.err)
        }
    }

    /// A registry that requires a client certificate (mTLS): refused without one, accepted with --client-cert/--client-key.
    func testClientCertificate() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-mtls")
        XCTAssertEqual(try kiln(["certificate", "--out", dir + "/tls"]).status, 0)
        let reg = try LocalRegistry(self, dir: dir, tls: (dir + "/tls/server.crt", dir + "/tls/server.key"), clientCA: dir + "/tls/ca.crt")
        try ImageFixture.make(layout: dir + "/src", tag: "v1", payload: "mtls", signWith: nil)
        let dest = "\(reg.address)/kiln/mtls:v1"
        let without = try kiln(["push", dir + "/src:v1", dest, "--ca-file", dir + "/tls/ca.crt", "--timeout", "5"])
        XCTAssertNotEqual(without.status, 0)
        XCTAssertTrue(without.err.contains("TLS"), without.err)
        let with = try kiln(["push", dir + "/src:v1", dest, "--ca-file", dir + "/tls/ca.crt",
                             "--client-cert", dir + "/tls/client.crt", "--client-key", dir + "/tls/client.key"])
        XCTAssertEqual(with.status, 0, with.err)
        let mismatched = try kiln(["push", dir + "/src:v1", dest, "--ca-file", dir + "/tls/ca.crt",
                                   "--client-cert", dir + "/tls/client.crt", "--client-key", dir + "/tls/server.key"])
        XCTAssertNotEqual(mismatched.status, 0)
        XCTAssertTrue(mismatched.err.contains("does not match the certificate"), mismatched.err)
    }

    /// `openssl s_server` on loopback with a certificate from kiln's CA: a wrong host name is refused; a server that
    /// offers only TLS 1.3 ChaCha20-Poly1305 is refused in FIPS mode (and accepted outside it, so the test can fail).
    func testHostnameAndFIPSCipherRefusals() throws {
        let dir = try TestSupport.temporaryDirectory(self, prefix: "kiln-tlsref")
        XCTAssertEqual(try kiln(["certificate", "--out", dir + "/ok"]).status, 0)
        XCTAssertEqual(try kiln(["certificate", "--out", dir + "/wrong", "--name", "wrong.example"]).status, 0)

        let wrongPort = try startSServer(self, dir: dir, cert: dir + "/wrong/server.crt", key: dir + "/wrong/server.key", extra: [])
        let r = try kiln(["pull", "127.0.0.1:\(wrongPort)/x/y:v1", dir + "/p1", "--ca-file", dir + "/wrong/ca.crt", "--timeout", "5"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("not trusted") && r.err.contains("address mismatch"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/p1"))

        let chacha = ["-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-tls1_3"]
        let port = try startSServer(self, dir: dir, cert: dir + "/ok/server.crt", key: dir + "/ok/server.key", extra: chacha)
        let args = ["pull", "127.0.0.1:\(port)/x/y:v1", dir + "/p2", "--ca-file", dir + "/ok/ca.crt", "--timeout", "5"]
        // Outside FIPS mode the handshake works (s_server -www then answers with a status page, not a manifest).
        let plain = try kiln(args)
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertFalse(plain.err.contains("TLS:"), plain.err)
        guard let fips = fipsEnv else { throw XCTSkip("KILN_TEST_FIPS_CONF/OPENSSL_MODULES not set: FIPS half skipped") }
        let port2 = try startSServer(self, dir: dir, cert: dir + "/ok/server.crt", key: dir + "/ok/server.key", extra: chacha)
        let refused = try kiln(["pull", "127.0.0.1:\(port2)/x/y:v1", dir + "/p3", "--ca-file", dir + "/ok/ca.crt", "--timeout", "5"], env: fips)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("TLS: handshake") && refused.err.contains("FIPS mode"), refused.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/p3"))
    }
}

/// `openssl s_server -www` on a free loopback port (stopped by PID in teardown); returns the port.
func startSServer(_ t: XCTestCase, dir: String, cert: String, key: String, extra: [String]) throws -> Int {
    let port = try freePort()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    p.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-www", "-quiet"] + extra
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    p.standardInput = FileHandle.nullDevice
    var env = ProcessInfo.processInfo.environment
    env["OPENSSL_CONF"] = nil
    p.environment = env
    try p.run()
    let pid = p.processIdentifier
    t.addTeardownBlock { kill(pid, SIGTERM); p.waitUntilExit() }
    let deadline = Date().addingTimeInterval(5)
    while !canConnect(port: port) {
        guard p.isRunning, Date() < deadline else { throw XCTSkip("openssl s_server did not start") }
        usleep(30_000)
    }
    return port
}
