import Foundation
import KilnArchive
import KilnCore
@testable import KilnImage
import KilnOCI
import KilnTestSupport
import XCTest

/// `kiln pod run` for real: an image holding the host's openssl binary and libraries (standard
/// variant) plus kiln's own FIPS provider from `make test-fips-provider` (fips variant), built with
/// `kiln image`, run as two containers of one pod doing TLS 1.3 with a certificate from `tls:`.
/// One image build is shared by the class (~2 s); each pod run takes about a second.
final class PodTests: XCTestCase {
    nonisolated(unsafe) static var shared: (dir: String, layout: String)?

    override class func tearDown() {
        if let s = shared { try? FileManager.default.removeItem(atPath: s.dir) }
        shared = nil
        super.tearDown()
    }

    /// The openssl image (tags tls:1.0 and tls:1.0-fips), built once.
    func image() throws -> String {
        if let s = Self.shared { return s.layout }
        guard getuid() == 0 else { throw XCTSkip("kiln pod run needs root (bubblewrap + nsenter)") }
        guard let modules = ProcessInfo.processInfo.environment["OPENSSL_MODULES"],
              FileManager.default.fileExists(atPath: modules + "/fips.so") else {
            throw XCTSkip("OPENSSL_MODULES does not hold kiln's test FIPS provider (make test sets it from make test-fips-provider)")
        }
        let dir = NSTemporaryDirectory() + "kiln-pod-test-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let repo = try TestRepo(dir: dir)
        let lib = "usr/lib/x86_64-linux-gnu"
        func host(_ p: String) throws -> Data {
            guard let d = FileManager.default.contents(atPath: "/" + p) else { throw KilnMessage("host file /\(p) missing") }
            return d
        }
        try repo.add(.init(name: "hostssl", version: "1.0-r0", files: [
            .directory("usr"), .directory("usr/bin"), .directory("usr/lib"), .directory(lib), .directory("lib64"),
            .directory("usr/lib/ssl"), .file("usr/bin/openssl", try host("usr/bin/openssl"), mode: 0o755),
            .file("lib64/ld-linux-x86-64.so.2", try host(lib + "/ld-linux-x86-64.so.2"), mode: 0o755),
        ] + ["libssl.so.3", "libcrypto.so.3", "libc.so.6"].map { TarEntry.file(lib + "/" + $0, try host(lib + "/" + $0), mode: 0o755) }))
        try repo.add(.init(name: "stubborn", version: "1.0-r0", files: [
            .directory("usr"), .directory("usr/bin"), .file("usr/bin/stubborn", try Self.stubbornProgram(dir: dir), mode: 0o755),
        ]))
        try repo.add(.init(name: "openssl-fips-provider", version: "3.0.22-r0", files: [
            .directory("usr"), .directory("usr/lib"), .directory(lib), .directory(lib + "/ossl-modules"), .directory("usr/lib/ssl"),
            .file(lib + "/ossl-modules/fips.so", try Data(contentsOf: URL(fileURLWithPath: modules + "/fips.so")), mode: 0o755),
            .file("usr/lib/ssl/fipsmodule.cnf", try Data(contentsOf: URL(fileURLWithPath: modules + "/fipsmodule.cnf"))),
        ]))
        try repo.add(.init(name: "openssl-config-fips", version: "1-r0", depends: ["openssl-fips-provider"], files: [
            .directory("usr"), .directory("usr/lib"), .directory("usr/lib/ssl"),
            TestRepo.file("usr/lib/ssl/openssl.cnf", TestSupport.fipsEnforcingConfig(include: "/usr/lib/ssl/fipsmodule.cnf")),
        ]))
        try repo.writeIndex()
        try """
        name: tls
        version: "1.0"
        contents:
          repositories: [\(repo.repoDir)]
          keyring: [\(repo.keyPath)]
          packages: [hostssl, stubborn]
        entrypoint:
          command: /usr/bin/openssl
        cmd: version
        accounts:
          groups: [{groupname: nonroot, gid: 65532}]
          users: [{username: nonroot, uid: 65532, gid: 65532}]
          run-as: nonroot
        """.write(toFile: dir + "/tls.yaml", atomically: true, encoding: .utf8)
        let built = try TestSupport.kiln(["image", dir + "/tls.yaml", "--out", dir + "/tls", "--source-date-epoch", "1700000000"])
        XCTAssertEqual(built.status, 0, built.err)
        Self.shared = (dir, dir + "/tls")
        return dir + "/tls"
    }

    /// A static program that ignores SIGTERM, says so, and sleeps (for the SIGKILL-after-grace test).
    static func stubbornProgram(dir: String) throws -> Data {
        let src = dir + "/stubborn.c"
        try """
        #include <signal.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(void) { signal(SIGTERM, SIG_IGN); printf("ignoring SIGTERM\\n"); fflush(stdout); for (;;) sleep(60); }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        let r = try TestSupport.run("/usr/bin/gcc", ["-static", "-O1", "-o", src + ".bin", src])
        guard r.status == 0, let d = FileManager.default.contents(atPath: src + ".bin") else { throw KilnMessage("gcc -static failed: \(r.err)") }
        return d
    }

    /// Writes a pod file next to the image and runs it with the built kiln.
    func pod(_ yaml: String, _ extra: [String] = []) throws -> (status: Int32, out: String, err: String, file: String) {
        _ = try image()
        let file = Self.shared!.dir + "/pod-\(UUID().uuidString.prefix(8)).yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try TestSupport.kiln(["pod", "run", file] + extra)
        return (r.status, r.out, r.err, file)
    }

    static func server(variant: String? = nil, extra: String = "") -> String {
        """
          - name: server
            image: tls
        \(variant.map { "    variant: \($0)\n" } ?? "")    args: [s_server, -accept, "8443", -cert, /run/pod/tls/tls.crt, -key, /run/pod/tls/tls.key, -www\(extra)]
            ready: {port: 8443}
        """
    }

    static func client(variant: String? = nil, extra: String = "") -> String {
        """
          - name: client
            image: tls
        \(variant.map { "    variant: \($0)\n" } ?? "")    args: [s_client, -connect, "localhost:8443", -CAfile, /run/pod/tls/ca.crt, -verify_return_error, -brief\(extra)]
            probe: true
        """
    }

    /// Two containers reach each other on 127.0.0.1 and do TLS 1.3 with the pod's certificate, in
    /// both variants; the server, still running when the probe exits, is stopped (no process left).
    func testTLSBetweenTwoContainersBothVariants() throws {
        let mark = UUID().uuidString
        for variant in ["standard", "fips"] {
            let r = try pod("name: tls-\(variant)\ntls: {hosts: [localhost, 127.0.0.1]}\ncontainers:\n"
                            + Self.server() + "\n    env: {POD_TEST_MARK: \(mark)}\n" + Self.client() + "\n", ["--variant", variant])
            XCTAssertEqual(r.status, 0, r.out + r.err)
            XCTAssertTrue(r.err.contains("[client] CONNECTION ESTABLISHED"), r.err)
            XCTAssertTrue(r.err.contains("[client] Protocol version: TLSv1.3"), r.err)
            XCTAssertTrue(r.err.contains("[client] Verification: OK"), r.err)
            XCTAssertTrue(r.err.contains("probe client exited with status 0"), r.err)
            XCTAssertTrue(r.err.contains("started client (tls:1.0\(variant == "fips" ? "-fips" : "") from tls)"), r.err)
            XCTAssertEqual(Self.processes(marked: mark), [], "the server must be stopped with the pod")
        }
    }

    /// The FIPS server refuses a client offering only TLS_CHACHA20_POLY1305_SHA256 (not
    /// FIPS-approved); the standard server accepts it. The pod's status is the probe's.
    func testFIPSServerRefusesChaCha20() throws {
        let only = ", -ciphersuites, TLS_CHACHA20_POLY1305_SHA256"
        let refused = try pod("name: chacha-fips\ntls: {}\ncontainers:\n" + Self.server(variant: "fips") + "\n" + Self.client(variant: "standard", extra: only) + "\n")
        XCTAssertNotEqual(refused.status, 0, refused.err)
        XCTAssertFalse(refused.err.contains("[client] CONNECTION ESTABLISHED"), refused.err)
        XCTAssertTrue(refused.err.contains("[server]") && refused.err.contains("no shared cipher"), refused.err)
        XCTAssertTrue(refused.err.contains("kiln: error: pod probe client exited with status \(refused.status)"), refused.err)
        let accepted = try pod("name: chacha-std\ntls: {}\ncontainers:\n" + Self.server() + "\n" + Self.client(extra: only) + "\n")
        XCTAssertEqual(accepted.status, 0, accepted.err)
        XCTAssertTrue(accepted.err.contains("[client] Ciphersuite: TLS_CHACHA20_POLY1305_SHA256"), accepted.err)
    }

    /// The pod's network has only loopback: the host's loopback (a listener the test opens) and any
    /// other address are unreachable from a container.
    func testNoHostNetwork() throws {
        let port = try TestSupport.freeLoopbackPort()
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = UInt16(port).bigEndian; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(bound, 0); XCTAssertEqual(listen(listener, 4), 0)
        let hostLoop = try pod("name: nohost\ncontainers:\n  - {name: c, image: tls, args: [s_client, -connect, \"127.0.0.1:\(port)\"], probe: true}\n")
        XCTAssertNotEqual(hostLoop.status, 0)
        XCTAssertTrue(hostLoop.err.contains("Connection refused"), hostLoop.err)
        let outside = try pod("name: nonet\ncontainers:\n  - {name: c, image: tls, args: [s_client, -connect, \"192.0.2.1:443\"], probe: true}\n")
        XCTAssertNotEqual(outside.status, 0)
        XCTAssertTrue(outside.err.contains("Network is unreachable"), outside.err)
    }

    /// A container that ignores SIGTERM is killed after the grace period; a ready: port nobody
    /// listens on fails the pod naming the container and its line; a --log-dir gets each log.
    func testGraceKillReadyTimeoutAndLogs() throws {
        let mark = UUID().uuidString
        let start = Date()
        let logs = Self.shared.map { $0.dir } ?? NSTemporaryDirectory()
        let r = try pod("""
            name: stubborn
            containers:
              - {name: sleeper, image: tls, entrypoint: [/usr/bin/stubborn], env: {POD_TEST_MARK: \(mark)}}
              - {name: probe, image: tls, args: [version], probe: true}

            """, ["--grace", "1", "--log-dir", logs + "/logs-\(mark)"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(Self.processes(marked: mark), [], "SIGKILL after the grace period")
        XCTAssertTrue(r.out.contains("[probe] OpenSSL 3"), r.out)
        XCTAssertTrue((try? String(contentsOfFile: logs + "/logs-\(mark)/probe.log", encoding: .utf8))?.hasPrefix("OpenSSL 3") == true)
        XCTAssertTrue((try? String(contentsOfFile: logs + "/logs-\(mark)/sleeper.log", encoding: .utf8))?.contains("ignoring SIGTERM") == true)

        let t = try pod("""
            name: notready
            containers:
              - name: sleeper
                image: tls
                entrypoint: [/usr/bin/stubborn]
                env: {POD_TEST_MARK: \(mark)}
                ready: {port: 9999, timeout: 1}
              - {name: probe, image: tls, probe: true}

            """, ["--grace", "1"])
        XCTAssertEqual(t.status, 1)
        XCTAssertTrue(t.err.contains("\(t.file):7:"), t.err)
        XCTAssertTrue(t.err.contains("container sleeper did not listen on loopback TCP port 9999 within 1 s"), t.err)
        XCTAssertFalse(t.err.contains("started probe"), "later containers never start")
        XCTAssertEqual(Self.processes(marked: mark), [])
    }

    /// --timeout stops a pod whose probe never exits (everything killed, the run fails saying so);
    /// a container that exits early is reported and the pod goes on until the probe exits.
    func testTimeoutAndEarlyExit() throws {
        let mark = UUID().uuidString
        let start = Date()
        let r = try pod("""
            name: forever
            containers:
              - {name: quitter, image: tls, args: [s_client, -connect, "127.0.0.1:1"]}
              - {name: sleeper, image: tls, entrypoint: [/usr/bin/stubborn], env: {POD_TEST_MARK: \(mark)}, probe: true}

            """, ["--timeout", "2", "--grace", "1"])
        XCTAssertEqual(r.status, 1)
        XCTAssertLessThan(Date().timeIntervalSince(start), 15)
        XCTAssertTrue(r.err.contains("pod forever: quitter exited with status 1"), r.err)
        XCTAssertTrue(r.err.contains("pod forever still running after 2 s (no probe exited); it was stopped"), r.err)
        XCTAssertEqual(Self.processes(marked: mark), [])
    }

    /// Ctrl-C (SIGINT) on kiln pod run stops every container and removes the pod's temporary files.
    func testInterruptStopsEverything() throws {
        _ = try image()
        let mark = UUID().uuidString
        let file = Self.shared!.dir + "/interrupt.yaml"
        try """
            name: interrupted
            containers:
              - {name: sleeper, image: tls, entrypoint: [/usr/bin/stubborn], env: {POD_TEST_MARK: \(mark)}, probe: true}

            """.write(toFile: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.kilnExecutable)
        p.arguments = ["pod", "run", file, "--grace", "1"]
        let err = Pipe()
        p.standardError = err; p.standardOutput = FileHandle.nullDevice
        try p.run()
        var up = false
        for _ in 0..<200 where !up { usleep(50_000); up = !Self.processes(marked: mark).isEmpty }
        XCTAssertTrue(up, "the container started")
        kill(p.processIdentifier, SIGINT)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, text)
        XCTAssertTrue(text.contains("pod interrupted: interrupted by signal \(SIGINT); every container was stopped"), text)
        XCTAssertEqual(Self.processes(marked: mark), [])
        let left = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("kiln-pod-\(p.processIdentifier)-") }
        XCTAssertEqual(left, [], "temporary files removed")
    }

    /// Bad images: missing, not a layout, no tag for the variant, an unknown tag.
    func testHostileImages() throws {
        let layout = try image()
        let dir = Self.shared!.dir
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let cases: [(String, String)] = [
            ("image: nowhere", "image \(dir)/nowhere does not exist; build it first"),
            ("image: empty", "is not an OCI layout (no oci-layout file)"),
            ("image: tls\n    tag: 9.9", "has no tag 9.9 (tags: tls:1.0, tls:1.0-fips)"),
        ]
        for (img, expect) in cases {
            let r = try pod("name: bad\ncontainers:\n  - name: c\n    \(img)\n    probe: true\n")
            XCTAssertEqual(r.status, 1, img)
            XCTAssertTrue(r.err.contains("\(r.file):3:") && r.err.contains(expect), r.err)
        }
        // A layout with only the standard tag has no fips tag.
        let std = dir + "/std-only"
        let b = try TestSupport.kiln(["image", dir + "/tls.yaml", "--out", std, "--variant", "standard", "--source-date-epoch", "1700000000"])
        XCTAssertEqual(b.status, 0, b.err)
        let r = try pod("name: bad\ncontainers:\n  - {name: c, image: std-only, probe: true}\n", ["--variant", "fips"])
        XCTAssertTrue(r.err.contains("has no fips tag (tags: tls:1.0); build that variant (kiln image --variant all) or pin one with `tag:`"), r.err)
        XCTAssertFalse(layout.isEmpty)
        // Two fips tags: the variant cannot choose.
        let two = dir + "/two-fips"
        try FileManager.default.copyItem(atPath: layout, toPath: two)
        let l = try OCILayout(path: two)
        try l.setTag("tls:1.0-rc-fips", to: try l.resolve("tls:1.0-fips"))
        let ambiguous = try pod("name: bad\ncontainers:\n  - {name: c, image: two-fips, probe: true}\n", ["--variant", "fips"])
        XCTAssertEqual(ambiguous.status, 1)
        XCTAssertTrue(ambiguous.err.contains("has 2 fips tags (tls:1.0-fips, tls:1.0-rc-fips)") && ambiguous.err.contains("pin one with `tag:`"), ambiguous.err)
        // tag: as the version or the whole tag.
        for tag in ["1.0-fips", "tls:1.0-fips"] {
            let ok = try pod("name: tagged\ncontainers:\n  - {name: c, image: tls, tag: \(tag), args: [version], probe: true}\n")
            XCTAssertEqual(ok.status, 0, ok.err)
            XCTAssertTrue(ok.err.contains("started c (tls:1.0-fips from tls)"), ok.err)
        }
    }

    /// Processes whose environment holds POD_TEST_MARK=mark.
    static func processes(marked mark: String) -> [String] {
        let needle = Data("POD_TEST_MARK=\(mark)".utf8)
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { p in
            Int(p) != nil && (FileManager.default.contents(atPath: "/proc/\(p)/environ")?.range(of: needle) != nil)
        }
    }
}

/// Pod files are hostile input: each mistake is refused with file:line and what to do (no run).
final class PodFileTests: XCTestCase {
    func refusal(_ yaml: String) -> String {
        do { _ = try PodFile.parse(yaml, file: "p.yaml"); return "accepted" } catch { return "\(error)" }
    }

    func testStrictKeysPathsNamesAndProbe() {
        let ok = "name: p\ncontainers:\n  - name: a\n    image: x\n    probe: true\n"
        XCTAssertEqual(refusal(ok), "accepted")
        let cases: [(String, String)] = [
            ("name: p\nnetwork: host\ncontainers: []\n", "p.yaml:2:1: unknown key `network` in the pod file"),
            ("name: p\ncontainers:\n  - name: a\n    image: x\n    probe: true\n    privileged: true\n", "p.yaml:6:5: unknown key `privileged` in a container"),
            ("name: p\ntls: {hosts: [a], mnt: /x}\ncontainers: []\n", "p.yaml:2:19: unknown key `mnt` in tls"),
            ("name: p\ncontainers:\n  - name: a\n    image: x\n", "p.yaml:3:3: no container has `probe: true`"),
            ("name: p\ncontainers:\n  - {name: a, image: x, probe: true}\n  - {name: a, image: y}\n", "p.yaml:4:5: two containers are named `a` (the first at line 3)"),
            ("name: p\ncontainers:\n  - {name: A_b, image: x, probe: true}\n", "container name `A_b` is not a valid name"),
            ("name: p\ncontainers:\n  - {name: a, image: x, probe: true, variant: fipsy}\n", "variant: `fipsy` is not standard or fips"),
            ("name: p\ncontainers:\n  - {name: a, image: x, probe: true, variant: fips, tag: t}\n", "has both variant: and tag:"),
            ("name: p\ncontainers:\n  - {name: a, image: x, probe: true, ready: {port: 70000}}\n", "ready.port 70000 is not a TCP port"),
            ("name: p\ncontainers:\n  - {name: a, image: x, probe: true, ready: {}}\n", "ready: needs `port:`"),
            ("containers:\n  - {name: a, image: x, probe: true}\n", "missing `name:`"),
        ]
        for (yaml, expect) in cases { XCTAssertTrue(refusal(yaml).contains(expect), "\(refusal(yaml)) — expected \(expect)") }
        func file(_ path: String) -> String {
            refusal("name: p\ncontainers:\n  - name: a\n    image: x\n    probe: true\n    files:\n      - {path: \"\(path)\", content: x}\n")
        }
        XCTAssertTrue(file("etc/x.conf").contains("p.yaml:7:16: files: path `etc/x.conf` must be an absolute path"), file("etc/x.conf"))
        XCTAssertTrue(file("/etc/../../x").contains("contains `.` or `..`"))
        for reserved in ["/proc/self/x", "/dev/sda", "/sys/kernel/x", "/tmp/x"] {
            XCTAssertTrue(file(reserved).contains("which the pod runtime mounts itself"), file(reserved))
        }
        XCTAssertEqual(file("/run/pod/tls/ca.crt"), "accepted")   // no tls: → no mount there
        XCTAssertTrue(refusal("name: p\ntls: {}\ncontainers:\n  - name: a\n    image: x\n    probe: true\n    files:\n      - {path: /run/pod/tls/x, content: y}\n")
            .contains("is under tls.mount /run/pod/tls"))
        XCTAssertTrue(refusal("name: p\ncontainers:\n  - name: a\n    image: x\n    probe: true\n    files:\n      - {path: /e, content: x}\n      - {path: /e, content: y}\n")
            .contains("p.yaml:8:9: files: /e is declared twice (first at line 7)"))
    }
}
