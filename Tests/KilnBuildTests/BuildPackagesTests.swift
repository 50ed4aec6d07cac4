import Foundation
import KilnBuild
import KilnCore
import KilnRecipe
import KilnTestSupport
import XCTest

/// environment.contents.packages are mapped to something real before the build starts.
final class BuildPackagesTests: XCTestCase {
    /// A root with a dpkg status file listing `debs` and `commands` in usr/bin.
    func root(debs: [String], commands: [String]) throws -> String {
        let r = try TestSupport.temporaryDirectory(self)
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(r)/var/lib/dpkg", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: "\(r)/usr/bin", withIntermediateDirectories: true)
        var status = debs.map { "Package: \($0)\nStatus: install ok installed\nVersion: 1\n" }
        status.append("Package: removed-one\nStatus: deinstall ok config-files\n")
        try status.joined(separator: "\n").write(toFile: "\(r)/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        for c in commands { fm.createFile(atPath: "\(r)/usr/bin/\(c)", contents: Data("#!/bin/sh\n".utf8)) }
        return r
    }

    func testWolfiNamesMapToDebianPackagesKilnBuildsOrCommands() throws {
        let r = try root(debs: ["build-essential", "coreutils", "libssl-dev", "zlib1g-dev", "libexpat-dev"], commands: ["perl"])
        let res = BuildPackages.resolve(["build-base", "busybox", "openssl-dev", "zlib-dev>=1.3", "expat-dev", "perl",
                                         "libfoo-dev", "autoconf", "removed-one", "!conflicting"],
                                        fromKiln: ["libfoo-dev"], root: r)
        XCTAssertEqual(res.provided.map(\.name), ["build-base", "busybox", "openssl-dev", "zlib-dev", "expat-dev", "perl", "libfoo-dev"])
        XCTAssertEqual(res.provided.map(\.source), [.debian("build-essential"), .debian("coreutils"), .debian("libssl-dev"),
                                                    .debian("zlib1g-dev"), .debian("libexpat-dev"), .commands(["perl"]), .kiln])
        XCTAssertEqual(res.missing, ["autoconf", "removed-one"])
        let e = BuildPackages.missingError(res.missing, what: "app", toolchain: Toolchain(name: "debian-bookworm", rootPath: r),
                                           location: SourceLocation(file: "app.yaml", line: 1)).description
        XCTAssertTrue(e.hasPrefix("app.yaml:1: app: build-time packages that nothing provides (no step was run):"), e)
        XCTAssertTrue(e.contains("  autoconf — not built by kiln"), e)
        XCTAssertTrue(e.contains("add autoconf removed-one in `include` of recipes/toolchain/bookworm.lock"), e)
    }

    /// Wolfi's `ca-certificates-bundle` is what kiln's ca-certificates recipe makes: a tree of
    /// `ca-certificates` provides it (kiln's builds are asked for both names).
    func testCaCertificatesBundleIsKilnsCaCertificates() throws {
        let r = try root(debs: [], commands: [])
        XCTAssertEqual(BuildPackages.withKilnNames(["zlib", "ca-certificates-bundle"]), ["ca-certificates", "ca-certificates-bundle", "zlib"])
        let res = BuildPackages.resolve(["ca-certificates-bundle"], fromKiln: ["ca-certificates"], root: r)
        XCTAssertEqual(res.provided.map(\.source), [.kiln])
        XCTAssertEqual(BuildPackages.resolve(["ca-certificates-bundle"], fromKiln: [], root: r).missing, ["ca-certificates-bundle"])
    }

    func testRootWithoutDpkgUsesCommands() throws {
        let r = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: "\(r)/bin", withIntermediateDirectories: true)
        for c in ["sh", "sed", "grep", "find", "tar"] { FileManager.default.createFile(atPath: "\(r)/bin/\(c)", contents: Data()) }
        let res = BuildPackages.resolve(["busybox", "build-base"], fromKiln: [], root: r)
        XCTAssertEqual(res.provided.map(\.source), [.commands(["sh", "sed", "grep", "find", "tar"])])
        XCTAssertEqual(res.missing, ["build-base"])
    }

    /// A real build on the host: a package nothing provides fails before the first step, with the fix.
    func testBuildFailsBeforeTheFirstStepOnAMissingPackage() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try """
            package: {name: needy, version: '1', epoch: 0}
            environment:
              contents:
                packages: [build-base, no-such-package-kiln-test]
            pipeline:
              - runs: touch /home/build/step-ran && exit 1
            """.write(toFile: "\(dir)/needy.yaml", atomically: true, encoding: .utf8)
        var req = BuildRequest(recipePath: "\(dir)/needy.yaml", outputDirectory: "\(dir)/out", arch: "x86_64")
        req.keepWorkspace = true
        XCTAssertThrowsError(try Builder(progress: Progress(quiet: true)).build(req)) {
            let m = "\($0)"
            XCTAssertTrue(m.contains("needy: build-time packages that nothing provides (no step was run):"), m)
            XCTAssertTrue(m.contains("  no-such-package-kiln-test — "), m)
            XCTAssertFalse(m.contains("build-base —"), "build-base is build-essential on this Debian host: \(m)")
            XCTAssertTrue(m.contains("apt-get install"), m)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/out/logs/needy-1-r0-x86_64.log"), "no step, no log")
    }
}
