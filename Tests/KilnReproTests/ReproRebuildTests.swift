import Foundation
import KilnOCI
import XCTest
import KilnCore
import KilnCrypto
import KilnAttest
import KilnAPK
import KilnBuild
import KilnTestSupport
@testable import KilnRepro

/// `kiln repro RECIPE`: real sandbox builds, real packages, a real signed attestation.
final class ReproRebuildTests: XCTestCase {
    struct Env { var dir: String; var out: String; var key: String; var ec: String }

    func setup(_ name: String, steps: String) throws -> (Env, String) {
        let dir = try TestSupport.temporaryDirectory(self)
        let recipe = """
        package:
          name: \(name)
          version: "2.0"
          epoch: 1
          description: repro test
          copyright:
            - license: MIT
        environment:
          contents:
            packages: [busybox]
        pipeline:
          - runs: |
              mkdir -p ${{targets.destdir}}/usr/share/\(name)
              printf 'line one\\nline two\\n' > ${{targets.destdir}}/usr/share/\(name)/fixed
        \(steps.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))

        """
        let path = "\(dir)/\(name).yaml"
        try AtomicFile.write(recipe, to: path)
        var r = try TestSupport.kiln(["keygen", "--type", "rsa", "--out", dir + "/k"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", dir + "/ec"])
        XCTAssertEqual(r.status, 0, r.err)
        let e = Env(dir: dir, out: dir + "/out", key: dir + "/k.rsa", ec: dir + "/ec.key")
        r = try TestSupport.kiln(["build", path, "--out", e.out, "--signing-key", e.key])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        return (e, path)
    }

    func testRecipeIsReproducibleUnderAllVariationsAndTheVerdictIsAttested() throws {
        let (e, recipe) = try setup("steady", steps: """
            date -u -d @$SOURCE_DATE_EPOCH +%F > ${{targets.destdir}}/usr/share/steady/date
            echo "cpus: fixed" > ${{targets.destdir}}/usr/share/steady/cpu
            """)
        let r = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--attest-key", e.ec])
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(r.out.hasPrefix("kiln repro steady (variant standard); varied: build-path, time, umask, timezone, locale, hostname, domain, user, cpus, dir-order\n"), r.out)
        XCTAssertTrue(r.out.hasSuffix("\nreproducible\n"), r.out)
        // the attestation: DSSE over an in-toto statement with kiln's predicate, verifiable with the public key
        let attPath = e.out + "/repro/steady/repro.intoto.json"
        let env = try DSSEEnvelope(json: try JSON.parse(Data(contentsOf: URL(fileURLWithPath: attPath))), source: attPath)
        XCTAssertTrue(try env.verify(with: try PublicKey.load(path: e.dir + "/ec.pub")))
        let st = try XCTUnwrap(try JSONSerialization.jsonObject(with: env.payload) as? [String: Any])
        XCTAssertEqual(st["_type"] as? String, "https://in-toto.io/Statement/v1")
        XCTAssertEqual(st["predicateType"] as? String, "https://kiln.dev/attestations/repro/v1")
        let subject = try XCTUnwrap((st["subject"] as? [[String: Any]])?.first)
        XCTAssertEqual(subject["name"] as? String, "steady-2.0-r1.apk")
        let apk = e.out + "/packages/x86_64/steady-2.0-r1.apk"
        XCTAssertEqual((subject["digest"] as? [String: String])?["sha256"], try Digest.hashFile(.sha256, path: apk).hexString)
        let pred = try XCTUnwrap(st["predicate"] as? [String: Any])
        XCTAssertEqual(pred["verdict"] as? String, "reproducible")
        XCTAssertEqual(pred["reproducible"] as? Bool, true)
        XCTAssertEqual((pred["variations"] as? [String: String])?.keys.sorted(), ReproVariations.all.sorted())
        let art = try XCTUnwrap((pred["artifacts"] as? [[String: Any]])?.first)
        XCTAssertEqual(art["published"] as? String, art["rebuilt"] as? String)
    }

    func testDeliberatelyUnreproducibleRecipeIsExplained() throws {
        let (e, recipe) = try setup("wobbly", steps: """
            echo "built $(date +%s%N) on $(hostname) luck $RANDOM" > ${{targets.destdir}}/usr/share/wobbly/stamp
            """)
        let r = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--attest-key", e.ec])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        let line = try XCTUnwrap(r.out.split(separator: "\n").first { $0.hasPrefix("differs: usr/share/wobbly/stamp: ") })
        XCTAssertTrue(line.contains("content sha256:"), String(line))
        XCTAssertTrue(r.out.contains("  --- a/usr/share/wobbly/stamp\n  +++ b/usr/share/wobbly/stamp\n"), r.out)
        XCTAssertTrue(r.out.contains("  +built ") && r.out.contains(" on kiln-repro-varied luck "), r.out)
        XCTAssertTrue(r.out.contains("  -built ") && r.out.contains(" on kiln luck "), r.out)
        XCTAssertFalse(r.out.contains("differs: usr/share/wobbly/fixed"), r.out)
        let verdict = try XCTUnwrap(r.out.split(separator: "\n").last)
        XCTAssertTrue(verdict.hasPrefix("NOT reproducible ("), String(verdict))
        // .PKGINFO's datahash, the signature and the SBOM follow the changed file
        XCTAssertTrue(r.out.contains("differs: .PKGINFO"), r.out)
        let json = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--json", "--vary", "time,hostname"])
        XCTAssertEqual(json.status, 1)
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        XCTAssertEqual(o["reproducible"] as? Bool, false)
        XCTAssertEqual(o["variations"] as? [String], ["time", "hostname"])
        XCTAssertTrue((o["verdict"] as? String)?.hasPrefix("NOT reproducible") == true)
    }

    func testCouldNotRunIsExitTwo() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        var r = try TestSupport.kiln(["repro", dir + "/missing.yaml", "--out", dir + "/out", "--signing-key", dir + "/k.rsa"])
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertTrue(r.err.contains("missing.yaml"), r.err)
        r = try TestSupport.kiln(["repro", "x.yaml", "--vary", "moon-phase", "--signing-key", dir + "/k.rsa"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.err.contains("unknown variation `moon-phase`"), r.err)
    }

    func testVariationSpecs() throws {
        XCTAssertEqual(try ReproVariations().names, ReproVariations.all)
        XCTAssertEqual(try ReproVariations("all,-time,-cpus").names,
                       ["build-path", "umask", "timezone", "locale", "hostname", "domain", "user", "dir-order"])
        XCTAssertEqual(try ReproVariations("dir-order,domain").names, ["domain", "dir-order"])
        XCTAssertEqual(try ReproVariations("hostname,time").names, ["time", "hostname"])
        XCTAssertEqual(try ReproVariations("none").names, [])
        XCTAssertEqual(try ReproVariations("umask").environment.childUmask, "0002")
        XCTAssertNil(try ReproVariations("all,-umask").environment.childUmask)
        var bad = BuildEnvironmentVariation(); bad.childUmask = "0o2; rm -rf /"
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("not an octal umask"), "\($0)") }
        XCTAssertThrowsError(try ReproVariations("directory-order"))
        let v = try ReproVariations("time,user,cpus").environment
        XCTAssertEqual(v.clockOffset, "+397d"); XCTAssertEqual(v.uid, 1234); XCTAssertEqual(v.cpus, 1); XCTAssertNil(v.hostname)
        let w = try ReproVariations("domain,dir-order").environment
        XCTAssertEqual(w.domainName, "kiln-repro-varied.invalid"); XCTAssertEqual(w.reverseDirectoryOrder, true); XCTAssertNil(w.uid)
    }

    /// dir-order: the build sees the workspace through disorderfs, so an unsorted listing written into
    /// the package differs (and is named); a sorted one does not.
    func testUnsortedListingIsNotReproducibleUnderDirOrder() throws {
        let (e, recipe) = try setup("listing", steps: """
            mkdir -p made
            for f in alpha bravo charlie delta echo foxtrot golf hotel; do echo $f > made/$f; done
            ls -U made > ${{targets.destdir}}/usr/share/listing/unsorted
            ls made > ${{targets.destdir}}/usr/share/listing/sorted
            """)
        let r = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--vary", "dir-order"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.hasPrefix("kiln repro listing (variant standard); varied: dir-order\n"), r.out)
        XCTAssertTrue(r.out.contains("differs: usr/share/listing/unsorted: "), r.out)
        XCTAssertFalse(r.out.contains("differs: usr/share/listing/sorted"), r.out)
        XCTAssertFalse(r.out.contains("differs: usr/share/listing/fixed"), r.out)
        XCTAssertTrue(r.out.split(separator: "\n").last?.hasPrefix("NOT reproducible (") == true, r.out)
    }

    /// domain: the step sees the varied NIS domain name (and only the domain name changes).
    func testStepSeesTheVariedDomainName() throws {
        let (e, recipe) = try setup("domain", steps: """
            cat /proc/sys/kernel/domainname > ${{targets.destdir}}/usr/share/domain/proc
            hostname > ${{targets.destdir}}/usr/share/domain/host
            """)
        let r = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--vary", "domain"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.contains("differs: usr/share/domain/proc: "), r.out)
        XCTAssertTrue(r.out.contains("  +kiln-repro-varied.invalid\n"), r.out)
        XCTAssertFalse(r.out.contains("differs: usr/share/domain/host"), r.out)
    }

    /// umask: the sandbox child (bwrap, pid 1 of the sandbox) runs with umask 0002 — a step that writes
    /// pid 1's umask into the package makes the rebuild differ — while each step still runs with 022.
    func testSandboxChildRunsWithTheVariedUmaskAndStepsWith022() throws {
        let (e, recipe) = try setup("umasked", steps: """
            sed -n 's/^Umask:[[:space:]]*//p' /proc/1/status > ${{targets.destdir}}/usr/share/umasked/sandbox
            umask > ${{targets.destdir}}/usr/share/umasked/step
            """)
        let r = try TestSupport.kiln(["repro", recipe, "--out", e.out, "--signing-key", e.key, "--vary", "umask"])
        XCTAssertEqual(r.status, 1, r.out + r.err)
        XCTAssertTrue(r.out.hasPrefix("kiln repro umasked (variant standard); varied: umask\n"), r.out)
        XCTAssertTrue(r.out.contains("differs: usr/share/umasked/sandbox: "), r.out)
        XCTAssertTrue(r.out.contains("  +0002\n"), r.out)
        XCTAssertFalse(r.out.contains("differs: usr/share/umasked/step"), r.out)
    }

    /// A recipe repro with the umask (and every other) variation leaves this process's umask as it was,
    /// and the packages are still byte-identical: neither what the build child creates under 0002 nor
    /// kiln's own writes under this process's 027 (the published build ran under the usual 022) leak
    /// into the package.
    func testRecipeReproLeavesThisProcessUmaskAlone() throws {
        let (e, recipe) = try setup("calm", steps: """
            mkdir -p ${{targets.destdir}}/usr/share/calm/made
            echo made > ${{targets.destdir}}/usr/share/calm/made/file
            """)
        let before = umask(0o027)
        defer { umask(before) }
        let request = RecipeReproRequest(recipePath: recipe, variant: nil, outputRoot: e.out, publishedRepository: nil,
                                         variations: try ReproVariations("all"),
                                         toolchain: try ReproToolchain.root("host", recipePath: recipe, variant: nil, out: e.out, lockPath: nil),
                                         signer: try APKSigner.load(path: e.key), distro: "kiln", supplier: nil)
        let result = try RecipeRepro.reproduce(request)
        let now = umask(0o027)
        XCTAssertEqual(now, 0o027, "kiln repro RECIPE changed this process's umask")
        XCTAssertTrue(result.outcome.variations.names.contains("umask"))
        XCTAssertTrue(result.outcome.reproducible, result.outcome.render(notes: []))
    }
}
