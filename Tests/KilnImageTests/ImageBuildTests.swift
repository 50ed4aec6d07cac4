import Foundation
import KilnOCI
import KilnArchive
import KilnCore
import KilnCrypto
@testable import KilnImage
import KilnTestSupport
import XCTest

final class ImageBuildTests: XCTestCase {
    /// A small repository: a base package, a static hello program, openssl with a -fips build,
    /// and the FIPS provider/config packages.
    func makeRepo(_ dir: String, helloMessage: String = "hello from kiln") throws -> TestRepo {
        let repo = try TestRepo(dir: dir)
        let hello = try TestRepo.staticProgram(helloMessage, dir: dir)
        try repo.add(.init(name: "base-files", version: "1.0-r0", files: [
            .directory("etc"), TestRepo.file("etc/hostname", "kiln\n"), .directory("usr"), .directory("usr/bin"),
            .directory("bin"), .symlink("bin/hello", to: "/usr/bin/hello"),
        ]))
        try repo.add(.init(name: "hello", version: "2.12-r1", depends: ["base-files", "so:libcrypto.so.3"],
                           provides: ["cmd:hello=2.12-r1"], files: [
            .directory("usr"), .directory("usr/bin"), .file("usr/bin/hello", hello, mode: 0o755),
        ]))
        try repo.add(.init(name: "libcrypto3", version: "3.0.9-r0", origin: "openssl", provides: ["so:libcrypto.so.3=3"],
                           files: [.directory("usr"), .directory("usr/lib"), TestRepo.file("usr/lib/libcrypto.so.3", "standard crypto")]))
        try repo.add(.init(name: "libcrypto3-fips", version: "3.0.9-r0", origin: "openssl", provides: ["so:libcrypto.so.3=3", "libcrypto3=3.0.9-r0"],
                           files: [.directory("usr"), .directory("usr/lib"), TestRepo.file("usr/lib/libcrypto.so.3", "fips-built crypto")]))
        try repo.add(.init(name: "openssl-fips-provider", version: "3.0.22-r0", files: [
            .directory("usr"), .directory("usr/lib"), .directory("usr/lib/ossl-modules"),
            TestRepo.file("usr/lib/ossl-modules/fips.so", "provider"),
            .directory("usr/share"), .directory("usr/share/kiln"),
            TestRepo.file("usr/share/kiln/fips-module.json", #"{"schema":"https://kiln.dev/fips-module/v1","label":"fips-capable","name":"OpenSSL FIPS Provider","version":"3.0.22","package":"openssl-fips-provider","source":{"uri":"https://example.invalid/openssl-3.0.22.tar.gz","sha256":"00"},"reason":"test","buildDate":"2023-11-14T22:13:20Z","registry":{"path":"modules.yaml","sha256":"00"}}"#),
        ]))
        try repo.add(.init(name: "openssl-config-fips", version: "1-r0", depends: ["openssl-fips-provider"], files: [
            .directory("etc"), .directory("etc/ssl"), TestRepo.file("etc/ssl/openssl.cnf", "# fips\n"),
        ]))
        try repo.writeIndex()
        return repo
    }

    func writeConfig(_ dir: String, _ repo: TestRepo, extra: String = "") throws -> String {
        let p = dir + "/hello.yaml"
        try """
        contents:
          repositories: [\(repo.repoDir)]
          keyring: [\(repo.keyPath)]
          packages: [hello]
        entrypoint:
          command: /usr/bin/hello
        cmd: --from-cmd
        accounts:
          groups: [{groupname: app, gid: 65532}]
          users: [{username: app, uid: 65532, gid: 65532}]
          run-as: app
        work-dir: /home/app
        environment: {GREETING: hi}
        paths:
          - {path: /data, type: directory, uid: 65532, gid: 65532, permissions: 0o750}
        layering: {strategy: origin, budget: 3}
        vcs-url: https://example.invalid/kiln
        \(extra)
        """.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func build(_ configPath: String, out: String, epoch: Int64? = 1_700_000_100, variants: [ImageVariant] = ImageVariant.allCases,
               threads: Int = 0, lock: LockFile? = nil) throws -> [VariantResult] {
        var o = ImageBuildOptions()
        o.sourceDateEpoch = epoch
        o.variants = variants
        o.threads = threads
        o.lock = lock
        return try ImageBuilder(config: try ImageConfig.load(path: configPath), options: o).build(out: out)
    }

    func testBuildIsDeterministicAndVariantsShareBaseLayers() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let cfg = try writeConfig(dir, repo)
        let a = try build(cfg, out: dir + "/out-a", threads: 1)
        Thread.sleep(forTimeInterval: 1.1)
        let b = try build(cfg, out: dir + "/elsewhere/out-b", threads: 4)
        XCTAssertEqual(a.map(\.manifest.digest), b.map(\.manifest.digest))
        XCTAssertEqual(a.map(\.tag), ["hello:2.12-r1", "hello:2.12-r1-fips"])
        // The layout files keep the bytes `kiln image` always wrote (KilnOCI's layout, KilnImage's sorted-key index).
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/out-a/oci-layout")), Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8))
        let index = try Data(contentsOf: URL(fileURLWithPath: dir + "/out-a/index.json"))
        XCTAssertTrue(String(decoding: index, as: UTF8.self).hasPrefix(#"{"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"hello:2.12-r1"},"digest":"sha256:"#), String(decoding: index, as: UTF8.self))
        let std = a[0], fips = a[1]
        XCTAssertNotEqual(std.manifest.digest, fips.manifest.digest)
        // budget 3: two group layers + top layer. base-files and hello are shared, openssl differs.
        XCTAssertEqual(std.layers.count, 3)
        XCTAssertEqual(fips.layers.count, 3)
        XCTAssertEqual(std.layers[0].descriptor.digest, fips.layers[0].descriptor.digest)
        XCTAssertEqual(std.layers[1].descriptor.digest, fips.layers[1].descriptor.digest)
        XCTAssertNotEqual(std.layers[2].descriptor.digest, fips.layers[2].descriptor.digest)
        XCTAssertTrue(fips.packages.contains { $0.name == "libcrypto3-fips" })
        XCTAssertTrue(fips.packages.contains { $0.name == "openssl-config-fips" })
        XCTAssertFalse(std.packages.contains { $0.name.contains("fips") })
        XCTAssertEqual(fips.annotations["dev.kiln.fips.status"], "fips-capable")
        XCTAssertEqual(fips.annotations["dev.kiln.fips.module"], "OpenSSL FIPS Provider 3.0.22")
        XCTAssertEqual(fips.annotations["dev.kiln.fips.module.name"], "OpenSSL FIPS Provider")
        XCTAssertEqual(fips.annotations["dev.kiln.fips.module.version"], "3.0.22")
        XCTAssertNil(std.annotations["dev.kiln.fips.status"])
        XCTAssertEqual(std.annotations["org.opencontainers.image.source"], "https://example.invalid/kiln")
        XCTAssertEqual(std.annotations["org.opencontainers.image.created"], "2023-11-14T22:15:00Z")

        // Layout content: every blob's name is its digest; the image config is what the config says.
        let layout = try OCILayout(path: dir + "/out-a")
        let (_, m) = try layout.imageManifest(ref: "hello:2.12-r1")
        let conf = try JSONDecoder().decode(OCI.ImageConfig.self, from: try layout.readBlob(digest: m.config.digest))
        XCTAssertEqual(conf.config.Entrypoint, ["/usr/bin/hello"])
        XCTAssertEqual(conf.config.Cmd, ["--from-cmd"])
        XCTAssertEqual(conf.config.User, "app")
        XCTAssertEqual(conf.config.WorkingDir, "/home/app")
        XCTAssertTrue(conf.config.Env!.contains("GREETING=hi"))
        XCTAssertEqual(conf.rootfs.diff_ids, std.layers.map(\.diffID))
        XCTAssertEqual(conf.created, "2023-11-14T22:15:00Z")
        XCTAssertEqual(conf.history.count, 3)

        // The top layer has the apk database, accounts, os-release; layers are sorted tars with the epoch.
        var all: [String: (TarEntry, Data)] = [:]
        for l in m.layers {
            let entries = try ArchiveReader.entries(data: try layout.readBlob(digest: l.digest))
            let paths = entries.map(\.entry.path)
            XCTAssertEqual(paths, paths.sorted { TarEntry.pathPrecedes($0, $1) })
            for (e, d) in entries { XCTAssertEqual(e.mtime, 1_700_000_100, e.path); all[e.path] = (e, d) }
        }
        let installed = String(decoding: all["lib/apk/db/installed"]!.1, as: UTF8.self)
        XCTAssertTrue(installed.contains("P:hello\nV:2.12-r1\n"), installed)
        XCTAssertTrue(installed.contains("F:usr/bin\nR:hello\na:0:0:755\nZ:Q1"), installed)
        let sha1 = try Digest.hash(.sha1, all["usr/bin/hello"]!.1).base64String
        XCTAssertTrue(installed.contains("R:hello\na:0:0:755\nZ:Q1\(sha1)\n"), installed)
        XCTAssertEqual(String(decoding: all["etc/apk/world"]!.1, as: UTF8.self), "hello\n")
        XCTAssertNotNil(all["etc/apk/keys/test-image.rsa.pub"])
        XCTAssertTrue(String(decoding: all["etc/passwd"]!.1, as: UTF8.self).contains("app:x:65532:65532:Account created by kiln:/home/app:/bin/sh"))
        XCTAssertTrue(String(decoding: all["etc/group"]!.1, as: UTF8.self).contains("app:x:65532:"))
        XCTAssertTrue(String(decoding: all["etc/os-release"]!.1, as: UTF8.self).contains("VERSION_ID=\"2.12-r1\""))
        XCTAssertEqual(all["data"]?.0.mode, 0o750)
        XCTAssertEqual(all["data"]?.0.uid, 65532)
        XCTAssertEqual(all["home/app"]?.0.uid, 65532)
        XCTAssertEqual(String(decoding: all["usr/lib/libcrypto.so.3"]!.1, as: UTF8.self), "standard crypto")

        // --variant standard alone gives the same standard image as all.
        let s = try build(cfg, out: dir + "/out-s", variants: [.standard])
        XCTAssertEqual(s.map(\.manifest.digest), [std.manifest.digest])
    }

    func testOCIToolsAcceptLayout() throws {
        for tool in ["skopeo", "umoci"] where Subprocess.which(tool) == nil {
            throw XCTSkip("\(tool) missing; run `make deps`")
        }
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let cfg = try writeConfig(dir, repo)
        let r = try build(cfg, out: dir + "/layout")
        for v in r {
            let inspect = try TestSupport.run("skopeo", ["inspect", "oci:\(dir)/layout:\(v.tag)"])
            XCTAssertEqual(inspect.status, 0, inspect.err)
            XCTAssertTrue(inspect.out.contains(v.manifest.digest), inspect.out)
            let raw = try TestSupport.run("skopeo", ["inspect", "--raw", "oci:\(dir)/layout:\(v.tag)"])
            XCTAssertEqual("sha256:" + (try Digest.sha256Hex(Data(raw.out.utf8))), v.manifest.digest)
            let copy = try TestSupport.run("skopeo", ["copy", "oci:\(dir)/layout:\(v.tag)", "dir:\(dir)/copy-\(v.variant.rawValue)"])
            XCTAssertEqual(copy.status, 0, copy.err)
            let unpack = try TestSupport.run("umoci", ["unpack", "--rootless", "--image", "\(dir)/layout:\(v.tag)", "\(dir)/bundle-\(v.variant.rawValue)"])
            XCTAssertEqual(unpack.status, 0, unpack.err)
            let lib = try String(contentsOfFile: "\(dir)/bundle-\(v.variant.rawValue)/rootfs/usr/lib/libcrypto.so.3", encoding: .utf8)
            XCTAssertEqual(lib, v.variant == .fips ? "fips-built crypto" : "standard crypto")
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "\(dir)/bundle-\(v.variant.rawValue)/rootfs/usr/bin/hello"))
        }
        // A corrupted layer is caught by skopeo's re-hash.
        let layer = r[0].layers[0].descriptor.digest
        let p = try OCILayout(path: dir + "/layout").blobPath(layer)
        var d = try Data(contentsOf: URL(fileURLWithPath: p))
        d[d.count / 2] ^= 0xff
        try d.write(to: URL(fileURLWithPath: p))
        let bad = try TestSupport.run("skopeo", ["copy", "oci:\(dir)/layout:\(r[0].tag)", "dir:\(dir)/copy-bad"])
        XCTAssertNotEqual(bad.status, 0)
    }

    func testKilnImageAndRunCLI() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir, helloMessage: "hello from a kiln image")
        let cfg = try writeConfig(dir, repo)
        let out = dir + "/layout"
        let r = try TestSupport.kiln(["image", cfg, "--out", out, "--source-date-epoch", "1700000000"])
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, r.out)
        XCTAssertTrue(lines[0].hasPrefix("hello:2.12-r1 sha256:"), r.out)
        XCTAssertTrue(lines[1].hasPrefix("hello:2.12-r1-fips sha256:"), r.out)
        let run = try TestSupport.kiln(["run", out + ":hello:2.12-r1"])
        XCTAssertEqual(run.status, 0, run.err)
        XCTAssertEqual(run.out, "hello from a kiln image uid=65532 gid=65532 --from-cmd\n")
        let run2 = try TestSupport.kiln(["run", out + ":2.12-r1-fips", "--", "x", "y"])
        XCTAssertEqual(run2.status, 0, run2.err)
        XCTAssertEqual(run2.out, "hello from a kiln image uid=65532 gid=65532 x y\n")
        // --entrypoint replaces the ENTRYPOINT and, as with docker, drops the CMD unless arguments follow.
        let run3 = try TestSupport.kiln(["run", "--entrypoint", "/bin/hello", out + ":2.12-r1-fips"])
        XCTAssertEqual(run3.status, 0, run3.err)
        XCTAssertEqual(run3.out, "hello from a kiln image uid=65532 gid=65532\n")
        let run4 = try TestSupport.kiln(["run", "--entrypoint", "/no/such/program", out + ":2.12-r1-fips", "--", "z"])
        XCTAssertNotEqual(run4.status, 0)
        // Unknown keys warn; bad variants and missing tags are clear errors.
        let bad = try TestSupport.kiln(["image", cfg, "--out", out, "--variant", "both"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("--variant must be standard, fips or all"), bad.err)
        let missing = try TestSupport.kiln(["run", out + ":nope"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.err.contains("no image tagged 'nope'"), missing.err)
    }

    func testLockPinsPackages() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let cfg = try writeConfig(dir, repo)
        let lockPath = dir + "/hello.lock.json"
        let r = try TestSupport.kiln(["lock", cfg, "-o", lockPath])
        XCTAssertEqual(r.status, 0, r.err)
        let lock = try LockFile.load(path: lockPath)
        XCTAssertEqual(lock.variants["standard"]?.map(\.name), ["base-files", "hello", "libcrypto3"])
        XCTAssertTrue(lock.variants["fips"]!.contains { $0.name == "libcrypto3-fips" })
        let plain = try build(cfg, out: dir + "/a")
        let locked = try build(cfg, out: dir + "/b", lock: lock)
        XCTAssertEqual(plain.map(\.manifest.digest), locked.map(\.manifest.digest))
        // A newer hello appears: an unlocked build takes it, the locked one stays put.
        try repo.add(.init(name: "hello", version: "2.13-r0", depends: ["base-files"], files: [TestRepo.file("usr/bin/hello2", "x")]))
        try repo.writeIndex()
        let newer = try build(cfg, out: dir + "/c", variants: [.standard])
        XCTAssertTrue(newer[0].packages.contains { $0.nameVersion == "hello-2.13-r0" })
        let still = try build(cfg, out: dir + "/d", lock: lock)
        XCTAssertEqual(still.map(\.manifest.digest), plain.map(\.manifest.digest))
        // A rebuilt (different) package with the pinned version is refused.
        var l2 = lock
        l2.variants["standard"]![1].checksum = "Q1AAAA"
        XCTAssertThrowsError(try build(cfg, out: dir + "/e", lock: l2)) { e in
            XCTAssertTrue("\(e)".contains("lock pins hello-2.12-r1"), "\(e)")
        }
    }

    func testRefusesUnsignedAndTampered() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let repo = try makeRepo(dir)
        let cfg = try writeConfig(dir, repo)
        // Tampered package data: datahash check fails.
        let apk = repo.repoDir + "/x86_64/hello-2.12-r1.apk"
        var d = try Data(contentsOf: URL(fileURLWithPath: apk))
        let ranges = try Gzip.memberRanges(d)
        let dataMember = try Gzip.decompress(d.subdata(in: ranges[2]))
        var changed = dataMember
        if let i = changed.firstRange(of: Data("hello from kiln".utf8)) { changed[i.lowerBound] = UInt8(ascii: "J") }
        d = d.subdata(in: 0..<ranges[2].lowerBound) + (try Gzip.compress(changed))
        try d.write(to: URL(fileURLWithPath: apk))
        XCTAssertThrowsError(try build(cfg, out: dir + "/o1")) { e in
            XCTAssertTrue("\(e)".contains("tampered"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o1"), "no partial layout is left behind")
        // Unsigned index.
        try repo.writeIndex(signed: false)
        XCTAssertThrowsError(try build(cfg, out: dir + "/o2")) { e in
            XCTAssertTrue("\(e)".contains("unsigned index"), "\(e)")
        }
        // Wrong key.
        let other = try PrivateKey.generate(.rsa(bits: 2048))
        try other.publicKey.pem().write(to: URL(fileURLWithPath: repo.keyPath))
        try repo.writeIndex()
        XCTAssertThrowsError(try build(cfg, out: dir + "/o3")) { e in
            XCTAssertTrue("\(e)".contains("BAD signature"), "\(e)")
        }
    }

    func testUnsafePackagePathsAreRefused() throws {
        var tree = ImageTree()
        XCTAssertThrowsError(try tree.install(package: "evil", entries: [(TarEntry.file("../etc/passwd", Data()), Data())])) { e in
            XCTAssertTrue("\(e)".contains("unsafe path"), "\(e)")
        }
        // A symlinked parent pointing outside resolves inside the image root.
        try tree.install(package: "a", entries: [(TarEntry.symlink("escape", to: "../../../../tmp"), Data())])
        try tree.install(package: "b", entries: [(TarEntry.file("escape/x", Data("x".utf8)), Data("x".utf8))])
        XCTAssertNotNil(tree.node("tmp/x"))
        XCTAssertThrowsError(try tree.install(package: "c", entries: [(TarEntry.file("tmp/x", Data("y".utf8)), Data("y".utf8))])) { e in
            XCTAssertTrue("\(e)".contains("owned by b"), "\(e)")
        }
    }
}

