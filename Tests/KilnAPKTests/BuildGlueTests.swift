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
}
