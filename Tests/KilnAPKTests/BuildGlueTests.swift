import Foundation
import KilnAPK
import KilnTestSupport
import XCTest

/// `kiln build` of a recipe leaves a signed repository the reader (and so the image assembler)
/// resolves from: every package and subpackage as a signed .apk plus a signed APKINDEX.tar.gz.
final class BuildGlueTests: XCTestCase {
    func testBuildWritesSignedRepository() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-glue")
        let key = try TestKey.make(in: tmp)
        let recipe = tmp + "/kglue.yaml"
        try Fixture.write(recipe, """
            package:
              name: kglue
              version: 1.0.0
              epoch: 2
              description: glue test
              copyright:
                - license: MIT
              dependencies:
                runtime:
                  - busybox
            pipeline:
              - runs: |
                  mkdir -p ${{targets.destdir}}/usr/bin
                  printf '#!/bin/bash\\necho hi\\n' > ${{targets.destdir}}/usr/bin/kglue
                  chmod 755 ${{targets.destdir}}/usr/bin/kglue
            subpackages:
              - name: kglue-doc
                description: docs
                pipeline:
                  - runs: |
                      mkdir -p ${{targets.subpkgdir}}/usr/share/doc/kglue
                      echo doc > ${{targets.subpkgdir}}/usr/share/doc/kglue/README

            """)
        let env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"]
        let args = ["build", recipe, "--out", tmp + "/out", "--source-date-epoch", "1700000000",
                    "--signing-key", key.privatePath, "--supplier", "Example Corp"]
        let r = try KilnBinary.run(args, environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        let dir = tmp + "/out/packages/x86_64"
        let idx = try APKIndex.read(path: dir + "/APKINDEX.tar.gz", options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(idx.records.map(\.name), ["kglue", "kglue-doc"])
        let main = idx.records[0]
        XCTAssertEqual(main.version, "1.0.0-r2")
        XCTAssertEqual(main.license, "MIT")
        XCTAssertEqual(main.origin, "kglue")
        XCTAssertEqual(main.buildTime, 1_700_000_000)
        XCTAssertTrue(main.depends.contains("busybox"), "\(main.depends)")
        XCTAssertTrue(main.depends.contains("cmd:bash"), "\(main.depends)")
        XCTAssertTrue(main.provides.contains("cmd:kglue=1.0.0-r2"), "\(main.provides)")
        XCTAssertEqual(idx.records[1].origin, "kglue")
        for rec in idx.records {
            let p = try APKReader.read(path: dir + "/" + rec.fileName, options: APKVerifyOptions(keyring: key.keyring))
            XCTAssertEqual(p.checksum, rec.checksum)
            XCTAssertEqual(Int64(p.fileSize), rec.size)
            XCTAssertTrue(p.entries.contains { $0.path == "var/lib/db/sbom/\(rec.name)-1.0.0-r2.spdx.json" })
        }
        // Building again gives the same bytes (packages and index).
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/APKINDEX.tar.gz"))
        let again = try KilnBinary.run(args, environment: env)
        XCTAssertEqual(again.status, 0, again.err)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/APKINDEX.tar.gz")), before)
    }

    /// A recipe whose build environment names a package kiln built before gets it from the
    /// repository (verified, unpacked over the toolchain root).
    func testBuildUsesPackagesFromTheRepository() throws {
        let tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-glue2")
        let key = try TestKey.make(in: tmp)
        try Fixture.write(tmp + "/kdata.yaml", """
            package:
              name: kdata
              version: 3.1
              epoch: 0
              description: data for the next build
              copyright:
                - license: MIT
            pipeline:
              - runs: |
                  mkdir -p ${{targets.destdir}}/usr/share/kdata
                  echo "from kdata" > ${{targets.destdir}}/usr/share/kdata/payload.txt

            """)
        try Fixture.write(tmp + "/kuser.yaml", """
            package:
              name: kuser
              version: 1
              epoch: 0
              description: uses kdata at build time
              copyright:
                - license: MIT
            environment:
              contents:
                packages:
                  - kdata
            pipeline:
              - runs: |
                  mkdir -p ${{targets.destdir}}/usr/share/kuser
                  cp /usr/share/kdata/payload.txt ${{targets.destdir}}/usr/share/kuser/copied.txt

            """)
        let env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"]
        let common = ["--out", tmp + "/out", "--source-date-epoch", "1700000000", "--signing-key", key.privatePath]
        var r = try KilnBinary.run(["build", tmp + "/kdata.yaml"] + common, environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        r = try KilnBinary.run(["build", tmp + "/kuser.yaml", "--json"] + common, environment: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("\"installedFromRepository\" : [\n      \"kdata\""), r.out)
        let p = try APKReader.read(path: tmp + "/out/packages/x86_64/kuser-1-r0.apk", options: APKVerifyOptions(keyring: key.keyring))
        XCTAssertEqual(p.entries.first { $0.path == "usr/share/kuser/copied.txt" }?.data, Data("from kdata\n".utf8))
        XCTAssertEqual(try APKIndex.read(path: tmp + "/out/packages/x86_64/APKINDEX.tar.gz",
                                         options: APKVerifyOptions(keyring: key.keyring)).records.map(\.name), ["kdata", "kuser"])
    }

    func testResolveAndVersionOrder() {
        XCTAssertLessThan(APKVersion.compare("1.2", "1.10"), 0)
        XCTAssertLessThan(APKVersion.compare("1.2_rc1", "1.2"), 0)
        XCTAssertLessThan(APKVersion.compare("1.2", "1.2_p1"), 0)
        XCTAssertLessThan(APKVersion.compare("1.2-r1", "1.2-r10"), 0)
        XCTAssertLessThan(APKVersion.compare("1.2a", "1.2b"), 0)
        XCTAssertEqual(APKVersion.compare("3.0.1-r0", "3.0.1-r0"), 0)
        func rec(_ n: String, _ v: String, d: [String] = [], p: [String] = []) -> APKIndexRecord {
            var r = APKIndexRecord(); r.name = n; r.version = v; r.depends = d; r.provides = p; r.checksum = "Q1"; return r
        }
        let recs = [rec("a", "1-r0", d: ["so:libb.so.1", "c>=1", "!x", "so:libc.so.6"]), rec("b", "2-r0", p: ["so:libb.so.1=1"]),
                    rec("c", "1-r0"), rec("c", "1.1-r0")]
        let (got, missing) = APKInstall.resolve(["a"], in: recs)
        XCTAssertEqual(got.map { "\($0.name)-\($0.version)" }, ["b-2-r0", "c-1.1-r0", "a-1-r0"])
        XCTAssertEqual(missing, ["so:libc.so.6"])
    }
}
