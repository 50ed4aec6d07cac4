import Foundation
import KilnCore
import KilnTestSupport
import XCTest

/// The `kiln build` / `kiln source` commands, run as the built executable.
final class BuildCLITests: XCTestCase {
    func testSourceAddListAndOfflineBuild() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (tarball, sha) = try SandboxBuildTests.makeProject(in: dir)
        let recipe = "\(dir)/hello.yaml"
        try AtomicFile.write(SandboxBuildTests.recipe(sha256: sha), to: recipe)
        let cache = "\(dir)/cache"

        let missing = try TestSupport.kiln(["source", "list", recipe, "--source-cache", cache])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.out.contains("MISSING  sha256:\(sha)  https://example.invalid/hello-1.2.tar.gz"), missing.out)

        let add = try TestSupport.kiln(["source", "add", tarball, "--source-cache", cache])
        XCTAssertEqual(add.status, 0, add.err)
        XCTAssertTrue(add.out.hasPrefix(sha), add.out)
        let list = try TestSupport.kiln(["source", "list", recipe, "--source-cache", cache])
        XCTAssertEqual(list.status, 0, list.err)
        XCTAssertTrue(list.out.contains("cached "), list.out)
        XCTAssertTrue(try TestSupport.kiln(["source", "list", "--source-cache", cache]).out.hasPrefix(sha))

        let out = "\(dir)/out"
        let build = try TestSupport.kiln(["build", recipe, "--out", out, "--source-cache", cache, "--offline",
                                          "--source-date-epoch", "1700000000"],
                                         environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"])
        XCTAssertEqual(build.status, 0, build.err)
        XCTAssertTrue(build.out.contains("built hello-dev 1.2-r3 (x86_64, standard) → \(out)/trees/x86_64/hello-dev"), build.out)
        XCTAssertTrue(build.err.contains("build packages found in the host's toolchain (/usr): build-base (Debian build-essential), busybox (Debian coreutils)"), build.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/trees/x86_64/hello/usr/bin/hello"))
    }

    func testSourceListCoversEveryVariant() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let a = String(repeating: "a", count: 64), b = String(repeating: "b", count: 64)
        try AtomicFile.write("""
        package:
          name: v
          version: "1"
        vars:
          tarball: v-1.tar.gz
          sha: \(a)
        options:
          fips:
            vars:
              tarball: v-1-fips.tar.gz
              sha: \(b)
        pipeline:
          - uses: fetch
            with:
              uri: https://example.invalid/${{vars.tarball}}
              expected-sha256: ${{vars.sha}}

        """, to: "\(dir)/v.yaml")
        let list = try TestSupport.kiln(["source", "list", "\(dir)/v.yaml", "--source-cache", "\(dir)/cache"])
        XCTAssertEqual(list.status, 1)
        XCTAssertTrue(list.out.contains("MISSING  sha256:\(a)  https://example.invalid/v-1.tar.gz"), list.out)
        XCTAssertTrue(list.out.contains("MISSING  sha256:\(b)  https://example.invalid/v-1-fips.tar.gz"), list.out)
        XCTAssertTrue(list.err.contains("2 source(s) missing"), list.err)
    }

    func testRecipeErrorsNameFileLineColumn() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let recipe = "\(dir)/bad.yaml"
        try AtomicFile.write("package:\n  name: x\n  version: 1.0\n  colour: blue\npipeline:\n  - runs: echo ${{package.name}}\n", to: recipe)
        let strict = try TestSupport.kiln(["build", recipe, "--out", "\(dir)/out"])
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.err.contains("kiln: error: \(recipe):4:3: unknown key `colour` in package"), strict.err)
        XCTAssertTrue(strict.err.contains("--lenient"), strict.err)
        let lenient = try TestSupport.kiln(["build", recipe, "--out", "\(dir)/out", "--lenient"], environment: ["CI": "1", "PATH": "/usr/bin:/bin"])
        XCTAssertEqual(lenient.status, 0, lenient.err)
        XCTAssertTrue(lenient.err.contains("\(recipe):4:3: warning: unknown key `colour`"), lenient.err)

        try AtomicFile.write("package:\n  name: x\n  version: 1.0\npipeline:\n  - uses: autoconf/configur\n", to: recipe)
        let uses = try TestSupport.kiln(["build", recipe, "--out", "\(dir)/out"])
        XCTAssertTrue(uses.err.contains("\(recipe):5:11: unknown pipeline `autoconf/configur`"), uses.err)

        try AtomicFile.write("package:\n  name: x\n  version: 1.0\npipeline:\n  - runs: |\n      true\n      echo ${{targets.nothing}}\n", to: recipe)
        let subst = try TestSupport.kiln(["build", recipe, "--out", "\(dir)/out"])
        XCTAssertTrue(subst.err.contains("\(recipe):7: unknown substitution `${{targets.nothing}}`"), subst.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/out/trees/x86_64/x/usr"))
    }
}
