import Foundation
import XCTest
import KilnCore
import KilnRecipe
import KilnTestSupport
import KilnRepro

/// Issue 9: every recipe in `recipes/` and every image config in `recipes/images/` is reproducible
/// under the default variations (`kiln repro`, all of them). Both directories are enumerated, so a
/// new recipe or config is covered as soon as it exists; a recipe that `CatalogReproTests.recipes`
/// does not classify fails `testEveryRecipeIsClassified` instead of being skipped.
///
/// Each recipe is built with the real `kiln build` into a temporary signed repository (its catalog
/// build dependencies first), then `kiln repro` rebuilds it in the varied environment from the same
/// inputs and must say `reproducible`. Quick recipes run in `make test`; those needing the full
/// OpenSSL build, their `options:` variants (fips) and the image configs only with KILN_TEST_FULL=1.
/// Needs `make toolchain sources` (make test runs both).
final class CatalogReproTests: XCTestCase {
    enum Tier: String { case quick = "make test", full = "make test-full" }
    enum Root: String { case pinned = "the pinned Debian root", host = "the host" }
    struct Entry {
        var tier: Tier
        /// The root the recipe is built and rebuilt in.
        var root: Root = .pinned
    }

    /// Every recipe in recipes/*.yaml, by file name. A new recipe must be added here.
    static let recipes: [String: Entry] = [
        "ca-certificates": Entry(tier: .quick),          // imported .deb
        "glibc": Entry(tier: .quick),                    // imported .deb
        "libgcc": Entry(tier: .quick),                   // imported .deb
        "openssl-config-fips": Entry(tier: .quick),      // one file
        "zlib": Entry(tier: .quick),                     // ~15 s
        // Built (as `make demo` does) in the pinned root with kiln's own openssl running fipsinstall.
        // Even on the host (as FIPSProviderQuickTests builds it) a build + a one-CPU rebuild take
        // ~2.5 min on the shared 2-core machine: over make test's budget.
        "openssl-fips-provider": Entry(tier: .full),
        "openssl": Entry(tier: .full),                   // all of OpenSSL: many minutes on 2 cores
        "curl": Entry(tier: .full),                      // needs openssl-dev
        "pcre2": Entry(tier: .full),                     // ~2 min build + rebuild on the shared box
        "nginx": Entry(tier: .full),                     // needs openssl-dev; ~5 min on the shared box
        "redis": Entry(tier: .full),                     // needs openssl-dev; ~5 min on the shared box
        "libffi": Entry(tier: .full),                    // ~30 s; full with the rest of Python's stack
        "bzip2": Entry(tier: .full),                     // ~20 s
        "xz": Entry(tier: .full),                        // ~2 min on the shared box
        "tcl": Entry(tier: .full),                       // build-time only (sqlite's sqlite3.c); ~5 min shared
        "sqlite": Entry(tier: .full),                    // needs tcl; ~8 min on the shared box
        "python-3.11": Entry(tier: .full),               // needs openssl-dev and the libraries above; ~5–20 min
    ]

    var repo: String { TestSupport.packageRoot }
    var full: Bool { ProcessInfo.processInfo.environment["KILN_TEST_FULL"] == "1" }
    static let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "CI": "1"]

    /// recipes/*.yaml names, sorted.
    func catalog() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: repo + "/recipes")
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    func imageConfigs() throws -> [String] {
        let dir = repo + "/recipes/images"
        guard FileManager.default.fileExists(atPath: dir) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    struct Parsed { var name: String; var recipe: Recipe }

    func parsed() throws -> [String: Parsed] {
        var out: [String: Parsed] = [:]
        for n in try catalog() {
            out[n] = Parsed(name: n, recipe: try RecipeParser().parse(path: "\(repo)/recipes/\(n).yaml").recipe)
        }
        return out
    }

    /// The catalog recipes (file names) that `name` needs at build time — its build packages and
    /// those of its build options, mapped through the package and subpackage names — transitively.
    static func buildClosure(of name: String, in catalog: [String: Parsed], variants: Bool) -> [String] {
        var producer: [String: String] = [:]
        for (file, p) in catalog { for pkg in p.recipe.packageNames { producer[pkg] = file } }
        var seen: [String] = [], stack = [name]
        while let n = stack.popLast() {
            guard let r = catalog[n]?.recipe else { continue }
            var wanted = r.environment.packages
            if variants { wanted += r.options.flatMap(\.addPackages) }
            for w in wanted {
                let base = String(w.prefix { !"<>=~ ".contains($0) })
                if let f = producer[base], f != name, !seen.contains(f) { seen.append(f); stack.append(f) }
            }
        }
        return seen.sorted()
    }

    /// Every recipe file is classified, every classified recipe exists, and a quick recipe built in
    /// the pinned root needs nothing that only the full tier builds.
    func testEveryRecipeIsClassified() throws {
        let files = try catalog()
        XCTAssertFalse(files.isEmpty, "no recipes in \(repo)/recipes")
        for f in files where Self.recipes[f] == nil {
            XCTFail("recipes/\(f).yaml is not classified for the reproducibility check: add \"\(f)\" to CatalogReproTests.recipes "
                    + "(Tests/KilnReproTests/CatalogReproTests.swift) as .quick (make test) or .full (make test-full, slow builds), and to the README list")
        }
        for n in Self.recipes.keys.sorted() where !files.contains(n) {
            XCTFail("CatalogReproTests.recipes lists \"\(n)\" but recipes/\(n).yaml does not exist: remove it")
        }
        let p = try parsed()
        for (n, e) in Self.recipes where e.tier == .quick && e.root == .pinned && p[n] != nil {
            for d in Self.buildClosure(of: n, in: p, variants: false) where Self.recipes[d]?.tier == .full {
                XCTFail("recipes/\(n).yaml is classified quick but builds against \(d), which only make test-full builds")
            }
        }
    }

    struct Workspace { var out: String; var key: String; var attest: String; var toolchain: String }

    /// A temporary output directory with its own signing keys, sharing the repo's source cache.
    func workspace() throws -> Workspace {
        let out = try TestSupport.temporaryDirectory(self, prefix: "kiln-catalog-repro")
        try FileManager.default.createSymbolicLink(atPath: out + "/sources", withDestinationPath: repo + "/out/sources")
        var r = try TestSupport.kiln(["keygen", "--type", "rsa", "--bits", "2048", "--out", out + "/k"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try TestSupport.kiln(["keygen", "--type", "ecdsa", "--out", out + "/ec"])
        XCTAssertEqual(r.status, 0, r.err)
        let tc = try TestSupport.kiln(["toolchain", "path", "--out", repo + "/out"], cwd: repo)
        guard tc.status == 0 else {
            XCTFail("the pinned Debian toolchain is not bootstrapped: run `make toolchain sources` (make test does)\n\(tc.err)")
            throw XCTSkip("no toolchain")
        }
        return Workspace(out: out, key: out + "/k.rsa", attest: out + "/ec.key",
                         toolchain: tc.out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func root(_ w: Workspace, _ r: Root) -> String { r == .host ? "host" : w.toolchain }

    /// `kiln build` of `recipes` (file names; kiln orders them) into the workspace's repository.
    func build(_ w: Workspace, _ recipes: [String], root: Root, variant: String? = nil) throws {
        guard !recipes.isEmpty else { return }
        let started = Date()
        let r = try TestSupport.kiln(["build", "--toolchain", self.root(w, root), "--offline", "--out", w.out, "--signing-key", w.key]
                                     + (variant.map { ["--variant", $0] } ?? []) + recipes.map { "recipes/\($0).yaml" },
                                     environment: Self.environment, cwd: repo)
        XCTAssertEqual(r.status, 0, "kiln build \(recipes) failed; sources missing? run `make sources`\n\(r.err.suffix(4000))")
        print("catalog repro: built \(recipes.joined(separator: " "))\(variant.map { " (\($0))" } ?? "") in \(Int(Date().timeIntervalSince(started)))s")
        if r.status != 0 { throw XCTSkip("build failed") }
    }

    /// `kiln repro` under the default variations; asserts the verdict.
    func assertReproducible(_ w: Workspace, _ target: String, root: Root, variant: String? = nil, against: String? = nil) throws {
        let started = Date()
        var args = ["repro", target, "--toolchain", self.root(w, root), "--out", w.out, "--signing-key", w.key, "--attest-key", w.attest]
        if let variant { args += ["--variant", variant] }
        if let against = against ?? variant.map({ _ in w.out + "/packages" }) { args += ["--against", against] }
        let r = try TestSupport.kiln(args, environment: Self.environment, cwd: repo)
        let label = target + (variant.map { " --variant \($0)" } ?? "")
        XCTAssertEqual(r.status, 0, "kiln repro \(label): exit \(r.status)\n\(r.out.suffix(6000))\n\(r.err.suffix(3000))")
        // recipes: every variation; image configs: those image assembly has (it runs no build steps)
        let varied = target.contains("/images/") ? "varied: build-path, umask, timezone, locale"
                                                 : "varied: " + ReproVariations.all.joined(separator: ", ")
        XCTAssertTrue(r.out.contains(varied), "\(label): default variations: \(r.out.prefix(400))")
        XCTAssertTrue(r.out.hasSuffix("\nreproducible\n"), "\(label): \(r.out.suffix(6000))")
        print("catalog repro: \(label): \(r.status == 0 ? "reproducible" : "NOT reproducible") in \(Int(Date().timeIntervalSince(started)))s")
    }

    /// `make test`: the quick recipes, each built and rebuilt in its root.
    func testQuickRecipesAreReproducible() throws {
        let p = try parsed()
        let quick = try catalog().filter { Self.recipes[$0]?.tier == .quick }
        XCTAssertFalse(quick.isEmpty)
        let w = try workspace()
        for root in [Root.pinned, .host] {
            let names = quick.filter { Self.recipes[$0]?.root == root }
            let closure = Set(names.flatMap { Self.buildClosure(of: $0, in: p, variants: false) }).filter { Self.recipes[$0]?.tier == .quick && Self.recipes[$0]?.root == root }
            try build(w, Array(Set(names).union(closure)).sorted(), root: root)
        }
        for n in quick { try assertReproducible(w, "recipes/\(n).yaml", root: Self.recipes[n]!.root) }
    }

    /// `make test-full`: the whole catalog in the pinned root (standard, then every build option's
    /// variant, as `make demo` does), then the full-tier recipes and their variants are rebuilt, and
    /// every image config is assembled from that repository and reassembled by `kiln repro CONFIG`.
    func testFullCatalogAndImagesAreReproducible() throws {
        guard full else {
            throw XCTSkip("OpenSSL, curl, their fips variants and the image configs: KILN_TEST_FULL=1 (make test-full)")
        }
        let p = try parsed()
        let all = try catalog()
        let w = try workspace()
        // Everything in the pinned root (the provider too: fipsinstall with kiln's own openssl).
        try build(w, all, root: .pinned)
        let withOptions = all.filter { !(p[$0]?.recipe.options.isEmpty ?? true) }
        var variants: [(String, String)] = []
        for n in withOptions { for o in p[n]!.recipe.options.map(\.name).sorted() { variants.append((n, o)) } }
        for v in Set(variants.map(\.1)).sorted() {
            try build(w, variants.filter { $0.1 == v }.map(\.0), root: .pinned, variant: v)
        }
        for n in all where Self.recipes[n]?.tier == .full {
            try assertReproducible(w, "recipes/\(n).yaml", root: .pinned)
        }
        for (n, v) in variants where Self.recipes[n]?.tier == .full {
            try assertReproducible(w, "recipes/\(n).yaml", root: .pinned, variant: v)
        }
        // The configs trust ../../keys/kiln-dev.rsa.pub (make keys, a prerequisite of make test) besides
        // the test's key given with --keyring.
        let configs = try imageConfigs()
        for c in configs {
            let config = "recipes/images/\(c).yaml"
            let started = Date()
            let img = try TestSupport.kiln(["image", config, "--repo", w.out + "/packages", "--keyring", w.key + ".pub",
                                            "--out", w.out + "/images/\(c)"], environment: Self.environment, cwd: repo)
            XCTAssertEqual(img.status, 0, "kiln image \(config)\n\(img.err.suffix(3000))")
            guard img.status == 0 else { continue }
            print("catalog repro: image \(c) assembled in \(Int(Date().timeIntervalSince(started)))s")
            try assertReproducible(w, config, root: .pinned, against: w.out + "/images/\(c)")
        }
    }
}
