import Foundation
import KilnArchive
import KilnImage
import KilnTestSupport
import XCTest

/// Hostile image configs and output paths (the real kiln binary).
final class ImageHostileTests: XCTestCase {
    func testImageNamesAndTagsThatArePathsAreRefusedBeforeWriting() throws {
        let p = try Playground(self)
        for (i, line) in ["name: ../../victim", "name: ../victim/sub", "name: a/b", "name: ..", "name: /abs",
                          "version: ../../victim", "version: 1/../../x"].enumerated() {
            let file = "cfg\(i).yaml"
            try p.write(file, "\(line)\ncontents:\n  packages: [hello]\n")
            let value = String(line.split(separator: " ", maxSplits: 1)[1])
            try p.refuses(["image", file], mentions: ["\(file):1:", "`\(value)`"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(p.work)/out"), line)
        }
        // A name taken from the file name is checked too.
        try p.write("....yaml", "contents:\n  packages: [hello]\n")
        try p.refuses(["image", "....yaml"], mentions: ["....yaml", "`...`", "not a valid image name"])
    }

    func testOutThatIsAFileASymlinkOrAForeignDirectoryIsRefused() throws {
        let p = try Playground(self)
        try p.write("cfg.yaml", "contents:\n  packages: [hello]\n")
        let file = try p.write("precious.txt", "keep me\n")
        try p.refuses(["image", "cfg.yaml", "--out", "precious.txt"], mentions: ["precious.txt", "not a directory", "refusing to replace"])
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "keep me\n")
        try p.refuses(["image", "cfg.yaml", "--out", p.victim], mentions: [p.victim, "not a kiln output"])
        try FileManager.default.createSymbolicLink(atPath: "\(p.work)/link", withDestinationPath: p.victim)
        try p.refuses(["image", "cfg.yaml", "--out", "link"], mentions: ["link", "symbolic link"])
    }

    func testMalformedSectionsAreRefused() throws {
        let p = try Playground(self)
        try p.write("scalar.yaml", "contents:\n  packages: tiny\n")
        try p.refuses(["image", "scalar.yaml"], mentions: ["scalar.yaml:2:", "packages must be a list"])
        try p.write("variant.yaml", "contents:\n  packages: [a]\nvariants:\n  fips:\n    packages: tiny\n")
        try p.refuses(["image", "variant.yaml"], mentions: ["variant.yaml:5:", "packages must be a list"])
    }

    /// An `include:` (or the config itself) that never ends or blocks is refused before it is read.
    func testIncludesThatNeverEndOrBlockAreRefused() throws {
        let p = try Playground(self)
        XCTAssertEqual(mkfifo("\(p.work)/fifo.yaml", 0o644), 0)
        try p.write("big.yaml", String(repeating: "# padding\n", count: 2 << 20))
        for (i, inc) in ["/dev/zero", "fifo.yaml", "/dev/stdin", "big.yaml"].enumerated() {
            try p.write("inc\(i).yaml", "include: \(inc)\ncontents:\n  packages: [x]\n")
            let started = Date()
            try p.refuses(["image", "inc\(i).yaml"], mentions: [inc.hasPrefix("/") ? inc : "\(p.work)/\(inc)"])
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, inc)
        }
        try p.refuses(["image", "fifo.yaml"], mentions: ["fifo.yaml", "not a regular file"])
        try p.refuses(["build", "fifo.yaml", "--no-package"], mentions: ["fifo.yaml", "not a regular file"])
    }

    /// A repository with one package whose files are `files` (signed with the test key).
    func repo(_ p: Playground, _ files: [TarEntry], extra: [TestRepo.Pkg] = []) throws -> TestRepo {
        let repo = try TestRepo(dir: "\(p.work)/r")
        try repo.add(.init(name: "probe", version: "1.0-r0", files: files))
        for e in extra { try repo.add(e) }
        try repo.writeIndex()
        return repo
    }

    func config(_ repo: TestRepo, packages: [String] = ["probe"], extra: String = "") -> String {
        "contents:\n  repositories: [\(repo.repoDir)]\n  keyring: [\(repo.keyPath)]\n  packages: [\(packages.joined(separator: ", "))]\n\(extra)"
    }

    func testRunAsMustNameAnAccountOfTheImage() throws {
        let p = try Playground(self)
        let r = try repo(p, [.directory("usr"), TestRepo.file("usr/probe", "x")])
        try p.write("user.yaml", config(r, extra: "accounts:\n  run-as: nosuchuser\n"))
        try p.refuses(["image", "user.yaml", "--variant", "standard"], mentions: ["user.yaml", "run-as", "`nosuchuser`", "etc/passwd"])
        try p.write("group.yaml", config(r, extra: "accounts:\n  run-as: root:nosuchgroup\n"))
        try p.refuses(["image", "group.yaml", "--variant", "standard"], mentions: ["group.yaml", "`nosuchgroup`", "etc/group"])
        // Accounts the image has, and numeric ids, are fine.
        try p.write("ok.yaml", config(r, extra: "accounts:\n  users: [{username: app, uid: 1000}]\n  run-as: app\n"))
        let ok = try p.kiln(["image", "ok.yaml", "--variant", "standard", "--out", "out/ok"])
        XCTAssertEqual(ok.status, 0, ok.err)
        // An output under a regular file: one clear line, not an NSCocoaErrorDomain dump.
        try p.write("precious.txt", "keep me\n")
        try p.refuses(["image", "ok.yaml", "--variant", "standard", "--out", "precious.txt/sub"],
                      mentions: ["precious.txt/sub", "Not a directory"])
        let bad = try p.kiln(["image", "ok.yaml", "--variant", "standard", "--out", "precious.txt/sub"])
        XCTAssertFalse(bad.err.contains("NSCocoaErrorDomain"), bad.err)
        try p.write("num.yaml", config(r, extra: "accounts:\n  run-as: \"65532:65532\"\n"))
        let num = try p.kiln(["image", "num.yaml", "--variant", "standard", "--out", "out/num"])
        XCTAssertEqual(num.status, 0, num.err)
    }

    func testPathUnderARegularFileIsRefused() throws {
        let p = try Playground(self)
        // In one package, and across two packages (so across layers).
        let r = try repo(p, [.directory("usr"), .directory("usr/bin"), TestRepo.file("usr/bin/probe", "file"),
                             TestRepo.file("usr/bin/probe/sub", "under a file")], extra: [
            .init(name: "filepkg", version: "1.0-r0", files: [.directory("usr"), .directory("usr/bin"), TestRepo.file("usr/bin/probe", "f")]),
            .init(name: "dirpkg", version: "1.0-r0", files: [.directory("usr"), .directory("usr/bin"), .directory("usr/bin/probe"),
                                                             TestRepo.file("usr/bin/probe/more", "x")]),
        ])
        try p.write("one.yaml", config(r))
        try p.refuses(["image", "one.yaml", "--variant", "standard"], mentions: ["usr/bin/probe/sub", "usr/bin/probe", "not a directory"])
        try p.write("two.yaml", config(r, packages: ["filepkg", "dirpkg"]))
        try p.refuses(["image", "two.yaml", "--variant", "standard"], mentions: ["usr/bin/probe"])
    }
}
