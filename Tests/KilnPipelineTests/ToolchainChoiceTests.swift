import Foundation
import KilnBuild
import KilnCore
import KilnCrypto
import KilnPipeline
import KilnRecipe
import KilnTestSupport
import XCTest

/// `kiln build` without `--toolchain`: the host unless it lacks what a recipe needs and the
/// bootstrapped pinned root has it (ToolchainChoice). The pinned root here is a stand-in laid out
/// as `ToolchainStore` keeps one (stamp = the lock's bytes, `root/bin/sh`, a dpkg status).
final class ToolchainChoiceTests: XCTestCase {
    struct Setup { var out: String; var lock: String; var root: String }

    func setup(bootstrapped: Bool) throws -> Setup {
        let dir = try TestSupport.temporaryDirectory(self)
        let lock = "\(dir)/bookworm.lock"
        let text = try String(contentsOfFile: TestSupport.packageRoot + "/recipes/toolchain/bookworm.lock", encoding: .utf8)
        try text.write(toFile: lock, atomically: true, encoding: .utf8)
        let digest = try Digest.sha256Hex(Data(text.utf8))
        let cache = DebianToolchain.cacheDirectory(outDir: "\(dir)/out", suite: "bookworm", digest: digest)
        let root = "\(cache)/root"
        if bootstrapped {
            for d in ["bin", "usr/bin", "var/lib/dpkg"] { try FileManager.default.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true) }
            FileManager.default.createFile(atPath: "\(root)/bin/sh", contents: Data())
            FileManager.default.createFile(atPath: "\(root)/usr/bin/kiln-choice-tool", contents: Data())
            try "Package: kiln-choice-only-here\nStatus: install ok installed\n".write(toFile: "\(root)/var/lib/dpkg/status", atomically: true, encoding: .utf8)
            try text.write(toFile: "\(cache)/kiln-toolchain.lock", atomically: true, encoding: .utf8)
        }
        return Setup(out: "\(dir)/out", lock: lock, root: root)
    }

    func recipe(_ packages: [String], commands: [String] = []) throws -> Recipe {
        var text = "package: {name: app, version: '1', epoch: 0}\n"
        if !packages.isEmpty { text += "environment:\n  contents:\n    packages: [\(packages.joined(separator: ", "))]\n" }
        text += "pipeline:\n  - runs: 'true'\n"
        return try RecipeParser().parse(text: text, file: "app.yaml").recipe
    }

    func choose(_ r: Recipe, _ s: Setup, variant: String? = nil) throws -> (Toolchain, [String]) {
        let said = LockedValue([String]())
        var req = BuildRequest(recipePath: "app.yaml", outputDirectory: s.out, arch: "x86_64")
        req.variant = variant
        let tc = try ToolchainChoice.choose([r], build: req, installer: nil, lockPath: s.lock,
                                            progress: Progress(sink: { m in said.withLock { $0.append(m) } }))
        return (tc, said.value)
    }

    func testHostWhenItHasEverything() throws {
        let (tc, said) = try choose(try recipe(["build-base"]), try setup(bootstrapped: true))
        XCTAssertTrue(tc.isHost, "build-base is build-essential on this Debian host")
        XCTAssertEqual(said, [])
    }

    func testPinnedRootWhenTheHostLacksAPackageItHas() throws {
        let s = try setup(bootstrapped: true)
        let (tc, said) = try choose(try recipe(["kiln-choice-only-here"]), s)
        XCTAssertEqual(tc.rootPath, s.root)
        XCTAssertEqual(said.count, 1)
        XCTAssertTrue(said[0].contains("the host lacks kiln-choice-only-here (app: build-time package): building in the pinned Debian root"), said[0])
        XCTAssertTrue(said[0].contains("--toolchain host"), said[0])
    }

    func testHostWhenThePinnedRootLacksItTooOrIsNotBootstrapped() throws {
        let (tc, said) = try choose(try recipe(["kiln-choice-only-here", "no-such-package-anywhere"]), try setup(bootstrapped: true))
        XCTAssertTrue(tc.isHost)
        XCTAssertTrue(said.first?.contains("lacks no-such-package-anywhere (app: build-time package) — building on the host") ?? false, "\(said)")
        let (tc2, said2) = try choose(try recipe(["kiln-choice-only-here"]), try setup(bootstrapped: false))
        XCTAssertTrue(tc2.isHost, "the build then fails before its first step with the list (Builder)")
        XCTAssertTrue(said2.first?.contains("is not bootstrapped — run `make toolchain`") ?? false, "\(said2)")
    }

    func testKilnsOwnBuildsCountAndFIPSTakesThePinnedRoot() throws {
        let s = try setup(bootstrapped: true)
        let trees = "\(s.out)/trees/x86_64/kiln-choice-only-here"
        try FileManager.default.createDirectory(atPath: trees, withIntermediateDirectories: true)
        XCTAssertTrue(try choose(try recipe(["kiln-choice-only-here"]), s).0.isHost, "a tree kiln built provides it")
        let (fips, _) = try choose(try recipe([]), s, variant: "fips")
        XCTAssertEqual(fips.rootPath, s.root, "a FIPS variant never builds on the host")
    }
}
