import Foundation
import KilnOCI
import KilnAPK
import KilnArchive
import KilnCore
import KilnCrypto
@testable import KilnImage
import KilnTestSupport
import XCTest

/// Images from a repository written by KilnAPK (kiln's own package writer and index signer).
final class KilnAPKInteropTests: XCTestCase {
    func testTenPackageImageFromKilnAPKRepository() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let key = try TestRepo.sharedKey()
        let signer = try APKSigner(key: key, keyName: "interop.rsa.pub")
        try key.publicKey.pem().write(to: URL(fileURLWithPath: dir + "/interop.rsa.pub"))
        let repo = dir + "/repo"
        let hello = try TestRepo.staticProgram("interop hello", dir: dir)
        // Ten packages: app -> lib1..lib8 chain of deps, plus a base.
        var specs: [(PackageSpec, [String: Data])] = []
        var base = PackageSpec(name: "base", version: "1.0", epoch: 0, arch: "x86_64")
        base.buildDate = 1_700_000_000
        specs.append((base, ["etc/motd": Data("welcome\n".utf8)]))
        for i in 1...8 {
            var s = PackageSpec(name: "lib\(i)", version: "1.\(i)", epoch: 2, arch: "x86_64")
            s.buildDate = 1_700_000_000 + Int64(i)
            s.origin = i <= 4 ? "libs-a" : "libs-b"
            s.dependencies.runtime = i == 1 ? ["base"] : ["lib\(i - 1)>=1.\(i - 1)"]
            s.dependencies.provides = ["so:liblib\(i).so.1=1"]
            s.options.noDepends = true
            specs.append((s, ["usr/lib/liblib\(i).so.1": Data(repeating: UInt8(i), count: 50_000 * i)]))
        }
        var app = PackageSpec(name: "app", version: "3.0", epoch: 1, arch: "x86_64")
        app.buildDate = 1_700_000_100
        app.dependencies.runtime = ["so:liblib8.so.1"]
        app.options.noDepends = true
        specs.append((app, ["usr/bin/app": hello]))
        for (spec, files) in specs {
            let root = dir + "/trees/" + spec.name
            for (p, d) in files {
                let full = root + "/" + p
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try d.write(to: URL(fileURLWithPath: full))
                if p.hasPrefix("usr/bin/") { chmod(full, 0o755) }
            }
            try APKWriter.write(spec: spec, root: root, repository: repo, signer: signer)
        }
        try APKRepository.updateIndex(directory: repo + "/x86_64", signer: signer)

        let cfgPath = dir + "/app.yaml"
        try """
        contents:
          repositories: [./repo]
          keyring: [./interop.rsa.pub]
          packages: [app]
        entrypoint: {command: /usr/bin/app}
        layering: {strategy: origin, budget: 4}
        """.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        var o = ImageBuildOptions()
        o.variants = [.standard]
        let start = Date()
        let r = try ImageBuilder(config: try ImageConfig.load(path: cfgPath), options: o).build(out: dir + "/layout")
        let elapsed = Date().timeIntervalSince(start)
        print("kiln-bench: 10-package image assembled in \(String(format: "%.3f", elapsed)) s")
        XCTAssertEqual(r[0].packages.count, 10)
        XCTAssertEqual(r[0].tag, "app:3.0-r1")
        XCTAssertEqual(r[0].layers.count, 4)
        // No SOURCE_DATE_EPOCH: the newest builddate is the image time.
        XCTAssertEqual(r[0].annotations["org.opencontainers.image.created"], SourceDateEpoch.rfc3339(1_700_000_100))
        // The installed database lists every package with KilnAPK's SHA-1 checksums.
        let layout = try OCILayout(path: dir + "/layout")
        let top = try ArchiveReader.entries(data: try layout.readBlob(digest: r[0].layers.last!.descriptor.digest))
        let installed = String(decoding: top.first { $0.entry.path == "lib/apk/db/installed" }!.data, as: UTF8.self)
        XCTAssertEqual(installed.split(separator: "\n").filter { $0.hasPrefix("P:") }.count, 10, installed)
        let sha1 = try Digest.hash(.sha1, hello).base64String
        XCTAssertTrue(installed.contains("R:app\na:0:0:755\nZ:Q1\(sha1)"), installed)
        let run = try TestSupport.kiln(["run", dir + "/layout"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(run.out, "interop hello uid=0 gid=0\n")
    }
}
