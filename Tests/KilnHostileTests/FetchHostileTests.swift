import Foundation
import KilnBuild
import KilnCore
import KilnCrypto
import KilnRecipe
import XCTest

/// `fetch` runs outside the sandbox as root: it must not reach this machine's services, read host
/// files, echo their digests, hang on a FIFO, or download without bounds.
final class FetchHostileTests: XCTestCase {
    static let zeros = String(repeating: "0", count: 64)

    static func recipe(uri: String, sha256: String = zeros) -> String {
        """
        package:
          name: x
          version: "1.0"
        pipeline:
          - uses: fetch
            with:
              uri: \(uri)
              expected-sha256: \(sha256)

        """
    }

    /// A loopback HTTP server serving `dir` (python3), stopped at teardown; returns its port and log.
    func server(_ dir: String, silent: Bool = false) throws -> (port: Int, log: String) {
        let log = "\(dir)/.server.log"
        let port = Int.random(in: 20_000...60_000)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = silent
            ? ["python3", "-c", "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', \(port))); s.listen(8); time.sleep(120)"]
            : ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, String(port)]
        FileManager.default.createFile(atPath: log, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: log)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        addTeardownBlock { p.terminate(); p.waitUntilExit() }
        for _ in 0..<100 {   // wait until it listens
            if (try? Subprocess("bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"]).run())?.succeeded == true { break }
            usleep(50_000)
        }
        return (port, log)
    }

    func testHostOnlyAddressesAreRefusedWithoutBeingContacted() throws {
        let p = try Playground(self)
        let served = "\(p.work)/srv"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        let body = Data("secret of a host-only service\n".utf8)
        try body.write(to: URL(fileURLWithPath: "\(served)/s.txt"))
        let sha = try Digest.sha256Hex(body)
        let (port, log) = try server(served)
        let uris = ["http://127.0.0.1:\(port)/s.txt", "http://localhost:\(port)/s.txt", "http://[::1]:\(port)/s.txt",
                    "http://2130706433:\(port)/s.txt", "http://127.1:\(port)/s.txt", "http://0.0.0.0:\(port)/s.txt",
                    "http://169.254.169.254/latest/meta-data/"]
        for (i, uri) in uris.enumerated() {
            try p.write("l\(i).yaml", Self.recipe(uri: uri, sha256: sha))
            try p.refuses(["source", "fetch", "l\(i).yaml", "--out", "out"], mentions: ["l\(i).yaml:5:", uri, "loopback, link-local"])
        }
        try p.refuses(["build", "l0.yaml", "--out", "out", "--no-package"], mentions: ["l0.yaml:5:", "loopback"])
        XCTAssertFalse(try String(contentsOfFile: log, encoding: .utf8).contains("GET"), "the server was contacted")
        // The explicit test-only opt-in lets a local server work (and proves the server was reachable).
        let ok = try p.kiln(["source", "fetch", "l0.yaml", "--out", "out"], environment: ["KILN_FETCH_ALLOW_LOOPBACK": "1"])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains(sha), ok.out)
    }

    func testOnlyHttpAndHttpsSchemes() throws {
        let p = try Playground(self)
        for (i, uri) in ["ftp://example.invalid/x.tar.gz", "gopher://example.invalid/x", "dict://example.invalid/x",
                         "scp://example.invalid/x", "ldap://example.invalid/x"].enumerated() {
            try p.write("s\(i).yaml", Self.recipe(uri: uri))
            try p.refuses(["source", "fetch", "s\(i).yaml", "--out", "out"], mentions: ["s\(i).yaml:5:", uri, "only http and https"])
        }
    }

    func testLocalFilesOnlyBesideTheRecipeAndNeverTheirDigest() throws {
        let p = try Playground(self)
        let victimSHA = try Digest.hashFile(.sha256, path: "\(p.victim)/precious.txt").hexString
        try FileManager.default.createSymbolicLink(atPath: "\(p.work)/link.txt", withDestinationPath: "\(p.victim)/precious.txt")
        let outside = ["file://\(p.victim)/precious.txt", "\(p.victim)/precious.txt", "../victim/precious.txt", "link.txt",
                       "file:///etc/passwd", "/etc/passwd"]
        for (i, uri) in outside.enumerated() {
            try p.write("f\(i).yaml", Self.recipe(uri: uri))
            try p.refuses(["source", "fetch", "f\(i).yaml", "--out", "out"], mentions: ["f\(i).yaml:5:", "inside the recipe's directory"])
            let r = try p.kiln(["source", "fetch", "f\(i).yaml", "--out", "out"])
            XCTAssertFalse(r.err.contains(victimSHA), r.err)
        }
        // Beside the recipe: allowed, but a mismatch names the file and never shows its digest.
        let local = try p.write("src.txt", "local source\n")
        let localSHA = try Digest.hashFile(.sha256, path: local).hexString
        try p.write("mine.yaml", Self.recipe(uri: "src.txt"))
        try p.refuses(["source", "fetch", "mine.yaml", "--out", "out"], mentions: ["mine.yaml:5:", "src.txt", "does not match"])
        XCTAssertFalse(try p.kiln(["source", "fetch", "mine.yaml", "--out", "out"]).err.contains(localSHA))
        try p.write("good.yaml", Self.recipe(uri: "file://\(local)", sha256: localSHA))
        let ok = try p.kiln(["source", "fetch", "good.yaml", "--out", "out"])
        XCTAssertEqual(ok.status, 0, ok.err)
    }

    func testFifosDirectoriesAndOversizedFilesAreRefusedWithoutHanging() throws {
        let p = try Playground(self)
        XCTAssertEqual(mkfifo("\(p.work)/pipe", 0o644), 0)
        try p.write("fifo.yaml", Self.recipe(uri: "pipe"))
        let started = Date()
        try p.refuses(["source", "fetch", "fifo.yaml", "--out", "out"], mentions: ["fifo.yaml:5:", "not a regular file"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
        try FileManager.default.createDirectory(atPath: "\(p.work)/adir", withIntermediateDirectories: true)
        try p.write("dir.yaml", Self.recipe(uri: "adir"))
        try p.refuses(["source", "fetch", "dir.yaml", "--out", "out"], mentions: ["dir.yaml:5:", "not a regular file"])
        try p.write("big.txt", String(repeating: "x", count: 4096))
        try p.write("big.yaml", Self.recipe(uri: "big.txt"))
        try p.refuses(["source", "fetch", "big.yaml", "--out", "out"], mentions: ["big.yaml:5:", "fetch limit of 1024 bytes"],
                      environment: ["KILN_FETCH_MAX_SIZE": "1K"])
    }

    func testDownloadsAreCappedInSizeAndTime() throws {
        let p = try Playground(self)
        let served = "\(p.work)/srv"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try Data(count: 64 << 10).write(to: URL(fileURLWithPath: "\(served)/big.bin"))
        let (port, _) = try server(served)
        try p.write("big.yaml", Self.recipe(uri: "http://127.0.0.1:\(port)/big.bin"))
        try p.refuses(["source", "fetch", "big.yaml", "--out", "out"], mentions: ["big.yaml:5:", "fetch limit of 4096 bytes"],
                      environment: ["KILN_FETCH_ALLOW_LOOPBACK": "1", "KILN_FETCH_MAX_SIZE": "4K"])
        let (silent, _) = try server(served, silent: true)
        try p.write("slow.yaml", Self.recipe(uri: "http://127.0.0.1:\(silent)/never"))
        let started = Date()
        try p.refuses(["source", "fetch", "slow.yaml", "--out", "out"], mentions: ["slow.yaml:5:", "timed out after 2 s"],
                      environment: ["KILN_FETCH_ALLOW_LOOPBACK": "1", "KILN_FETCH_TIMEOUT": "2"])
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    }

    /// A server on this machine's non-loopback address that redirects to `location` (skipped when the
    /// machine has no such address).
    func redirector(to location: String, dir: String) throws -> String {
        let ips = (try Subprocess("hostname", ["-I"]).run().stdoutString).split(separator: " ")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.contains(".") && !Downloader.isHostOnly($0) }
        guard let ip = ips.first else { throw XCTSkip("no non-loopback IPv4 address to serve a redirect from") }
        let port = Int.random(in: 20_000...60_000)
        let script = """
        import http.server
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(302); self.send_header('Location', '\(location)'); self.end_headers()
        http.server.HTTPServer(('\(ip)', \(port)), H).serve_forever()
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        p.standardError = FileHandle.nullDevice
        try p.run()
        addTeardownBlock { p.terminate(); p.waitUntilExit() }
        for _ in 0..<100 {
            if (try? Subprocess("bash", ["-c", "exec 3<>/dev/tcp/\(ip)/\(port)"]).run())?.succeeded == true { break }
            usleep(50_000)
        }
        return "http://\(ip):\(port)/source.tar.gz"
    }

    func testARedirectToAHostOnlyAddressIsRefused() throws {
        let p = try Playground(self)
        let served = "\(p.work)/srv"
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: "\(served)/s.txt"))
        let (port, log) = try server(served)
        for target in ["http://127.0.0.1:\(port)/s.txt", "file:///etc/passwd", "ftp://example.invalid/x"] {
            let uri = try redirector(to: target, dir: served)
            try p.write("r.yaml", Self.recipe(uri: uri))
            try p.refuses(["source", "fetch", "r.yaml", "--out", "out"], mentions: ["r.yaml:5:", "redirected to \(target)"])
        }
        XCTAssertFalse(try String(contentsOfFile: log, encoding: .utf8).contains("GET"), "the loopback server was reached by a redirect")
    }

    /// git-checkout clones outside the sandbox too: the same fence, and never a command transport.
    func testGitCheckoutRepositoriesAreFencedLikeFetch() throws {
        let p = try Playground(self)
        let marker = "\(p.victim)/ext-ran"
        let cases: [(String, String)] = [
            ("\(p.victim)", "inside the recipe's directory"), ("file://\(p.victim)", "inside the recipe's directory"),
            ("../victim", "inside the recipe's directory"), ("http://127.0.0.1:9/repo.git", "loopback"),
            ("git://localhost/repo.git", "loopback"), ("root@127.0.0.1:repo.git", "loopback"),
            ("ext::sh -c touch% \(marker)", "only http, https, git and ssh"), ("fd::3", "only http, https, git and ssh"),
        ]
        for (i, (repo, problem)) in cases.enumerated() {
            try p.write("g\(i).yaml", """
            package:
              name: x
              version: "1.0"
            pipeline:
              - uses: git-checkout
                with:
                  repository: \(repo)
                  expected-commit: \(String(repeating: "a", count: 40))

            """)
            try p.refuses(["source", "fetch", "g\(i).yaml", "--out", "out"], mentions: ["g\(i).yaml:5:", problem])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker))
    }

    func testBadLimitSettingsAreErrors() throws {
        let p = try Playground(self)
        try p.write("x.yaml", Self.recipe(uri: "https://example.invalid/x.tar.gz"))
        try p.refuses(["source", "fetch", "x.yaml", "--out", "out"], mentions: ["KILN_FETCH_MAX_SIZE lots", "expected a size"],
                      environment: ["KILN_FETCH_MAX_SIZE": "lots"])
        try p.refuses(["source", "fetch", "x.yaml", "--out", "out"], mentions: ["KILN_FETCH_TIMEOUT -3", "positive number"],
                      environment: ["KILN_FETCH_TIMEOUT": "-3"])
    }

    func testPolicyClassifiesAddresses() {
        for a in ["127.0.0.1", "127.255.0.9", "::1", "0.0.0.0", "::", "169.254.169.254", "fe80::1%eth0", "::ffff:127.0.0.1"] {
            XCTAssertTrue(Downloader.isHostOnly(a), a)
        }
        for a in ["93.184.216.34", "2606:2800:220:1::", "10.0.0.1", "fd00::1"] { XCTAssertFalse(Downloader.isHostOnly(a), a) }
    }
}
