import Foundation
import KilnTestSupport
import XCTest

/// Issue 21: Wolfi recipes built for real and unmodified, with Wolfi's own `pipelines/` — three
/// small C programs/libraries whose `expected-sha256` is Debian bookworm's orig tarball, so the
/// sources come from Debian's archive by digest (`kiln source debian --list Tests/wolfi/debian-sources.txt`).
/// Each is built with `kiln build --toolchain <pinned root> --pipeline-dir $KILN_WOLFI_DIR/pipelines`
/// and must produce the packages melange names `<name>-<version>-r<epoch>.apk` (the version and epoch
/// read from the recipe text here, not through kiln's parser); then `kiln test` runs its `test:` blocks
/// and each package's must pass. The tests run with kiln's built-in test pipelines: Wolfi's
/// `test/*` pipelines call chainguard's `tw` tools and `apk info`, which an offline Debian root does
/// not have (they are skipped and the test checks which). Wolfi's checkout is never copied into the
/// repository: set KILN_WOLFI_DIR to a wolfi-dev/os checkout (make test-full, KILN_TEST_FULL=1).
/// ~2 min on the shared 2-core machine (kiln's zlib and ca-certificates first: Wolfi's `zlib-dev`
/// and `ca-certificates-bundle`).
final class WolfiRecipeBuildTests: XCTestCase {
    struct Case {
        var recipe: String
        /// Subpackage name suffixes (`<name>-dev`, …) the recipe declares.
        var subpackages: [String]
        /// A file the main package's tree must have.
        var file: String
        /// Packages whose `test:` block runs, and the Wolfi test pipelines that are skipped in it.
        var tested: [String: [String]]
    }

    static let cases = [
        Case(recipe: "dhcping", subpackages: ["doc"], file: "usr/bin/dhcping",
             tested: ["dhcping": ["test/no-docs"], "dhcping-doc": ["test/docs"]]),
        Case(recipe: "libev", subpackages: ["dev", "doc"], file: "usr/lib/libev.so.4.0.0",
             tested: ["libev": ["test/no-docs"], "libev-dev": ["test/tw/devpackage"], "libev-doc": ["test/docs"]]),
        Case(recipe: "potrace", subpackages: ["dev", "doc"], file: "usr/bin/potrace",
             tested: ["potrace": ["test/tw/ver-check", "test/tw/help-check"], "potrace-dev": [], "potrace-doc": ["test/docs"]]),
    ]

    var repo: String { TestSupport.packageRoot }
    static let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"]

    /// `key: value` at two spaces under `package:` (melange's version and epoch), quotes dropped.
    static func packageField(_ key: String, in text: String) -> String? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.hasPrefix("  \(key): ") {
            let v = line.dropFirst(key.count + 4).split(separator: "#")[0].trimmingCharacters(in: .whitespaces)
            return v.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return nil
    }

    func testUnmodifiedWolfiRecipesBuildAndPassTheirTests() throws {
        guard ProcessInfo.processInfo.environment["KILN_TEST_FULL"] == "1" else {
            throw XCTSkip("three Wolfi recipes built from Debian's sources: KILN_TEST_FULL=1 (make test-full)")
        }
        guard let wolfi = ProcessInfo.processInfo.environment["KILN_WOLFI_DIR"], !wolfi.isEmpty else {
            throw XCTSkip("set KILN_WOLFI_DIR to a wolfi-dev/os checkout (git clone https://github.com/wolfi-dev/os) to build its recipes")
        }
        guard FileManager.default.fileExists(atPath: "\(wolfi)/pipelines") else {
            return XCTFail("KILN_WOLFI_DIR=\(wolfi) has no pipelines/ folder: not a wolfi-dev/os checkout")
        }
        let list = "\(repo)/Tests/wolfi/debian-sources.txt"
        let pins = try String(contentsOfFile: list, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("source ") }.map { $0.split(separator: " ").last.map(String.init) ?? "" }
        for (c, pin) in zip(Self.cases, pins) {
            let text = try String(contentsOfFile: "\(wolfi)/\(c.recipe).yaml", encoding: .utf8)
            XCTAssertTrue(text.contains(pin), "\(wolfi)/\(c.recipe).yaml no longer pins \(pin): update \(list) (kiln update)")
        }
        let tc = try TestSupport.kiln(["toolchain", "path", "--out", repo + "/out"], cwd: repo)
        guard tc.status == 0 else { return XCTFail("the pinned Debian toolchain is not bootstrapped: run `make toolchain`\n\(tc.err)") }
        let fetched = try TestSupport.kiln(["source", "debian", "--list", list, "--recipes", wolfi, "--out", repo + "/out"],
                                           environment: Self.environment, cwd: repo)
        XCTAssertEqual(fetched.status, 0, "kiln source debian: \(fetched.err)")

        let out = try TestSupport.temporaryDirectory(self, prefix: "kiln-wolfi")
        try FileManager.default.createSymbolicLink(atPath: out + "/sources", withDestinationPath: repo + "/out/sources")
        try FileManager.default.createSymbolicLink(atPath: out + "/toolchain", withDestinationPath: repo + "/out/toolchain")
        XCTAssertEqual(try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", out + "/k"]).status, 0)
        // Builds name the pinned root (`debian`, found through out/toolchain); `kiln test` is given no
        // --toolchain and must test where the package was built (ToolchainChoice.forTests).
        func kiln(_ args: [String], toolchain: [String] = ["--toolchain", "debian"]) throws -> (status: Int32, out: String, err: String) {
            try TestSupport.kiln(args + toolchain + ["--out", out], environment: Self.environment, cwd: repo)
        }
        // Wolfi's zlib-dev and ca-certificates-bundle: kiln's own recipes (make sources has their files).
        let base = try kiln(["build", "--offline", "--signing-key", out + "/k.rsa", "recipes/zlib.yaml", "recipes/ca-certificates.yaml"])
        XCTAssertEqual(base.status, 0, "kiln's zlib and ca-certificates (run `make sources`): \(base.err.suffix(3000))")

        for c in Self.cases {
            let path = "\(wolfi)/\(c.recipe).yaml"
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let version = try XCTUnwrap(Self.packageField("version", in: text)), epoch = try XCTUnwrap(Self.packageField("epoch", in: text))
            let started = Date()
            let b = try kiln(["build", "--offline", "--signing-key", out + "/k.rsa", "--pipeline-dir", "\(wolfi)/pipelines", path])
            XCTAssertEqual(b.status, 0, "kiln build \(path):\n\(b.err.suffix(4000))")
            print("wolfi: built \(c.recipe) \(version)-r\(epoch) in \(Int(Date().timeIntervalSince(started)))s")
            guard b.status == 0 else { continue }
            for name in [c.recipe] + c.subpackages.map({ "\(c.recipe)-\($0)" }) {
                let apk = "\(out)/packages/x86_64/\(name)-\(version)-r\(epoch).apk"
                XCTAssertTrue(FileManager.default.fileExists(atPath: apk), "melange's name for \(name): \(apk)\n\(b.err.suffix(2000))")
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/trees/x86_64/\(c.recipe)/\(c.file)"), "\(c.recipe): \(c.file)")

            let t = try kiln(["test", path], toolchain: [])
            XCTAssertEqual(t.status, 0, "kiln test \(path):\n\(t.out.suffix(3000))\n\(t.err.suffix(3000))")
            let said = t.out + t.err
            XCTAssertTrue(said.contains("kiln: \(c.recipe) was built in the pinned Debian root: testing there (\(out)/toolchain/debian-bookworm-"), said.prefix(1000).description)
            for (pkg, skipped) in c.tested {
                XCTAssertTrue(said.contains("test \(pkg): passed ("), "\(pkg)'s test block: \(said.suffix(3000))")
                for s in skipped { XCTAssertTrue(said.contains("skipped: pipeline `\(s)`"), "\(pkg): \(s) is Wolfi's (tw/apk-tools): \(said.suffix(2000))") }
            }
            // test/tw/ldd-check really looked at the package's programs/libraries (they are symlinks in the sandbox)
            let log = try String(contentsOfFile: "\(out)/logs/\(c.recipe)-\(version)-r\(epoch)-x86_64-test.log", encoding: .utf8)
            let checked = log.components(separatedBy: "ldd-check: ").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
            XCTAssertFalse(checked.isEmpty, "\(c.recipe): no ldd-check in its test log")
            XCTAssertTrue(checked.allSatisfy { $0 >= 1 }, "\(c.recipe): ldd-check checked no ELF file: \(checked)")
        }
    }
}
