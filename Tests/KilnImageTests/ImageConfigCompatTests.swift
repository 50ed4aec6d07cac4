import Foundation
import KilnCore
import KilnTestSupport
@testable import KilnImage
import XCTest

/// apko compatibility of image configs: include lookup, certificates, what stays out.
final class ImageConfigCompatTests: XCTestCase {
    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func selfSignedPEM(_ dir: String, cn: String) throws -> String {
        let r = try TestSupport.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                         "-nodes", "-keyout", "\(dir)/\(cn).key", "-out", "\(dir)/\(cn).pem",
                                                         "-subj", "/CN=\(cn)", "-days", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        return try String(contentsOfFile: "\(dir)/\(cn).pem", encoding: .utf8)
    }

    /// apko: the include as given (relative to the working directory), then the config's directory,
    /// then the include paths.
    func testIncludeLookupOrder() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write("\(dir)/cwd/base.yaml", "cmd: from-cwd\n")
        try write("\(dir)/cfg/base.yaml", "cmd: from-config-dir\n")
        try write("\(dir)/inc/only-here.yaml", "cmd: from-include-path\n")
        try write("\(dir)/cfg/a.yaml", "include: base.yaml\ncontents: {packages: [x]}\n")
        try write("\(dir)/cfg/b.yaml", "include: only-here.yaml\ncontents: {packages: [x]}\n")
        let old = FileManager.default.currentDirectoryPath
        defer { FileManager.default.changeCurrentDirectoryPath(old) }
        FileManager.default.changeCurrentDirectoryPath("\(dir)/cwd")
        XCTAssertEqual(try ImageConfig.load(path: "\(dir)/cfg/a.yaml").cmd, "from-cwd")
        FileManager.default.changeCurrentDirectoryPath("\(dir)/inc")
        XCTAssertEqual(try ImageConfig.load(path: "\(dir)/cfg/a.yaml").cmd, "from-config-dir")
        FileManager.default.changeCurrentDirectoryPath(dir)
        XCTAssertEqual(try ImageConfig.load(path: "\(dir)/cfg/b.yaml", includePaths: ["\(dir)/inc"]).cmd, "from-include-path")
        XCTAssertThrowsError(try ImageConfig.load(path: "\(dir)/cfg/b.yaml")) {
            let m = "\($0)"
            XCTAssertTrue(m.hasPrefix("\(dir)/cfg/b.yaml:1:10: included file only-here.yaml not found (looked at \(dir)/only-here.yaml, \(dir)/cfg/only-here.yaml)"), m)
        }
    }

    func testCertificatesAreCheckedAndInstalled() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let pem = try selfSignedPEM(dir, cn: "corp-ca")
        let indented = pem.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n")
        try write("\(dir)/c.yaml", "contents: {packages: [x]}\ncertificates:\n  additional:\n    - name: corp-ca\n      content: |\n\(indented)\n")
        let cfg = try ImageConfig.load(path: "\(dir)/c.yaml")
        XCTAssertEqual(cfg.certificates.map(\.name), ["corp-ca"])
        XCTAssertEqual(cfg.certificates[0].fingerprint.count, 64)
        var tree = ImageTree()
        tree.put("etc/ssl/certs/ca-certificates.crt", FSNode(kind: .file, mode: 0o644, data: Data("EXISTING".utf8)))
        try RootFS.installCertificates(cfg.certificates, into: &tree)
        let bundle = String(decoding: try tree.node("etc/ssl/certs/ca-certificates.crt")!.bytes(), as: UTF8.self)
        XCTAssertTrue(bundle.hasPrefix("EXISTING\n-----BEGIN CERTIFICATE-----\n"), bundle)
        XCTAssertNotNil(tree.node("usr/local/share/ca-certificates/corp-ca-\(cfg.certificates[0].fingerprint).crt"))
        // The re-encoded PEM is still the same certificate.
        try cfg.certificates[0].pem.write(toFile: "\(dir)/out.pem", atomically: true, encoding: .utf8)
        let a = try TestSupport.run("/usr/bin/openssl", ["x509", "-in", "\(dir)/corp-ca.pem", "-noout", "-fingerprint", "-sha256"]).out
        let b = try TestSupport.run("/usr/bin/openssl", ["x509", "-in", "\(dir)/out.pem", "-noout", "-fingerprint", "-sha256"]).out
        XCTAssertEqual(a, b)

        func refuses(_ certificates: String, _ contains: String, line: Int) throws {
            try write("\(dir)/bad.yaml", "contents: {packages: [x]}\ncertificates:\n" + certificates)
            XCTAssertThrowsError(try ImageConfig.load(path: "\(dir)/bad.yaml")) {
                XCTAssertTrue("\($0)".contains(contains), "\($0)")
                XCTAssertTrue("\($0)".hasPrefix("\(dir)/bad.yaml:\(line):"), "\($0)")
            }
        }
        try refuses("  additional:\n    - {name: ../evil, content: x}\n", "certificate name '../evil' is not allowed", line: 4)
        try refuses("  additional:\n    - {name: two, content: \"\(pem.replacingOccurrences(of: "\n", with: "\\n"))\(pem.replacingOccurrences(of: "\n", with: "\\n"))\"}\n",
                    "exactly one PEM certificate (found 2)", line: 4)
        try refuses("  additional:\n    - name: junk\n      content: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n",
                    "not an X.509 certificate", line: 4)
        try refuses("  providers: [ca-certificates]\n", "certificates.providers is not supported", line: 3)
    }

    func testWhatStaysOutHasClearErrors() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        func refuses(_ text: String, _ contains: String) throws {
            try write("\(dir)/x.yaml", text)
            XCTAssertThrowsError(try ImageConfig.load(path: "\(dir)/x.yaml")) { XCTAssertTrue("\($0)".contains(contains), "\($0)") }
        }
        try refuses("contents:\n  keyring: [https://packages.wolfi.dev/os/wolfi-signing.rsa.pub]\n", "is a URL; kiln works offline")
        try refuses("contents:\n  baseimage: {image: x, apkindex: y}\n", "contents.baseimage is not supported")
        try refuses("contents: {packages: [x]}\narchs: [x86_64, aarch64]\n", "kiln builds x86_64 images only")
        try refuses("contents:\n  runtime_keyring: [https://packages.wolfi.dev/os/wolfi-signing.rsa.pub]\n", "is a URL; kiln works offline")
    }

    /// contents.runtime_keyring: apko's inline {name, content} keys and (kiln) local key files, each
    /// exactly one PEM public key, concatenated over includes, installed into etc/apk/keys without
    /// replacing a key already there.
    func testRuntimeKeyringInlineAndFromFiles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        for n in ["a", "b"] {
            XCTAssertEqual(try TestSupport.run("/usr/bin/openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(dir)/\(n).key"]).status, 0)
            XCTAssertEqual(try TestSupport.run("/usr/bin/openssl", ["pkey", "-in", "\(dir)/\(n).key", "-pubout", "-out", "\(dir)/\(n).rsa.pub"]).status, 0)
        }
        let a = try String(contentsOfFile: "\(dir)/a.rsa.pub", encoding: .utf8)
        let indented = a.split(separator: "\n").map { "          " + $0 }.joined(separator: "\n")
        try write("\(dir)/base.yaml", "contents:\n  runtime_keyring:\n    - b.rsa.pub\n")
        try write("\(dir)/rk.yaml", "include: base.yaml\ncontents:\n  packages: [x]\n  runtime_keyring:\n    - name: inline.rsa.pub\n      content: |\n\(indented)\n")
        let cfg = try ImageConfig.load(path: "\(dir)/rk.yaml")
        XCTAssertEqual(cfg.runtimeKeyring.map(\.name), ["b.rsa.pub", "inline.rsa.pub"])
        XCTAssertEqual(cfg.runtimeKeyring[1].pem, Data(a.utf8))
        var tree = ImageTree()
        try RootFS.installRuntimeKeyring(cfg.runtimeKeyring, into: &tree)
        XCTAssertEqual(try tree.node("etc/apk/keys/b.rsa.pub")?.bytes(), FileManager.default.contents(atPath: "\(dir)/b.rsa.pub"))
        XCTAssertThrowsError(try RootFS.installRuntimeKeyring(cfg.runtimeKeyring, into: &tree)) {
            XCTAssertTrue("\($0)".contains("collides with an existing /etc/apk/keys entry"), "\($0)")
        }
        func refuses(_ entries: String, _ contains: String, line: Int = 3) throws {
            try write("\(dir)/bad.yaml", "contents:\n  runtime_keyring:\n" + entries)
            XCTAssertThrowsError(try ImageConfig.load(path: "\(dir)/bad.yaml")) {
                XCTAssertTrue("\($0)".contains(contains), "\($0)")
                XCTAssertTrue("\($0)".hasPrefix("\(dir)/bad.yaml:\(line):"), "\($0)")
            }
        }
        try refuses("    - {name: ../evil, content: x}\n", "needs a name of letters")
        try refuses("    - {name: k.pub, content: x}\n", "exactly one PEM public key (found 0")
        try refuses("    - a.key\n", "runtime_keyring key 'a.key'")
        try refuses("    - missing.pub\n", "cannot be read")
        try refuses("    - b.rsa.pub\n    - b.rsa.pub\n", "listed twice", line: 4)
    }

    func testImageCommandTakesIncludePaths() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try write("\(dir)/shared/base.yaml", "cmd: hi\n")
        try write("\(dir)/cfg/app.yaml", "include: base.yaml\ncontents: {packages: [x]}\n")
        let without = try TestSupport.kiln(["image", "\(dir)/cfg/app.yaml", "--out", "\(dir)/out"], cwd: dir)
        XCTAssertNotEqual(without.status, 0)
        XCTAssertTrue(without.err.contains("included file base.yaml not found"), without.err)
        let with = try TestSupport.kiln(["image", "\(dir)/cfg/app.yaml", "--out", "\(dir)/out", "--include-path", "\(dir)/shared"], cwd: dir)
        XCTAssertNotEqual(with.status, 0, "no repository: still fails, but later")
        XCTAssertFalse(with.err.contains("included file"), with.err)
    }
}
