import Foundation
import KilnBuild
import KilnCore
import KilnRecipe
import KilnTestSupport
import XCTest

/// kiln's built-in pipelines that melange also ships: same names, inputs, defaults and required
/// inputs as melange's pkg/build/pipelines (the table below is written from them), scripts kiln's own.
final class BuiltinPipelineTests: XCTestCase {
    /// name → [input: (default, required)] as melange declares them (nil default = none).
    static let melange: [String: [String: (String?, Bool)]] = [
        "split/alldocs": ["package": (nil, false)],
        "split/bin": ["package": (nil, false)],
        "split/lib": ["package": (nil, false), "patterns": (nil, false), "paths": (nil, false)],
        "split/debug": ["package": (nil, false)],
        "go/build": ["go-package": ("go", false), "packages": (nil, true), "tags": (nil, false),
                     "toolchaintags": ("netgo,osusergo", false), "output": (nil, true), "vendor": ("false", false),
                     "modroot": (".", false), "prefix": ("usr", false), "ldflags": (nil, false), "strip": ("-w", false),
                     "install-dir": ("bin", false), "deps": (nil, false), "experiments": ("", false), "extra-args": ("", false),
                     "amd64": ("v2", false), "arm64": ("v8.0", false), "buildmode": ("default", false),
                     "tidy": ("false", false), "ignore-untracked-files": ("true", false)],
        "go/install": ["go-package": ("go", false), "package": (nil, true), "version": (nil, false), "prefix": ("usr", false),
                       "install-dir": ("bin", false), "ldflags": (nil, false), "strip": ("-w", false), "tags": (nil, false),
                       "toolchaintags": ("netgo,osusergo", false), "experiments": ("", false), "amd64": ("v2", false),
                       "arm64": ("v8.0", false)],
        "go/build/v2": ["packages": (".", false), "tags": (nil, false), "toolchaintags": ("netgo,osusergo", false),
                        "output": ("", false), "vendor": ("false", false), "modroot": (".", false), "prefix": ("usr", false),
                        "ldflags": (nil, false), "strip": ("-w", false), "install-dir": ("bin", false), "experiments": ("", false),
                        "extra-args": ("", false), "amd64": ("v2", false), "arm64": ("v8.0", false),
                        "buildmode": ("default", false), "ignore-untracked-files": ("true", false)],
        "cargo/build": ["output": (nil, false), "opts": ("--release", false), "modroot": (".", false), "rustflags": ("", false),
                        "prefix": ("usr", false), "install-dir": ("bin", false), "output-dir": ("target/release", false),
                        "jobs": (nil, false)],
        "perl/make": [:], "perl/cleanup": [:], "python/build": [:], "python/install": [:], "python/build-wheel": [:],
        "python/import": ["python": ("DEFAULT", false), "import": (nil, false), "from": (nil, false), "imports": (nil, false),
                          "venv": (nil, false)],
        "python/test": ["command": (nil, true)],
        "ruby/build": ["dir": (".", false), "gem": (nil, true), "output": (nil, false), "opts": (nil, false)],
        "ruby/install": ["dir": (".", false), "gem": (nil, false), "gem-file": (nil, false), "version": (nil, true), "opts": ("", false)],
        "ruby/clean": [:],
        "pecl/phpize": ["php-config": ("php-config", false), "prefix": ("/usr", false)],
        "pecl/install": ["extension": (nil, true)],
        "R/build": ["package": (nil, true), "path": (".", false), "version": (nil, true)],
        "meson/compile": ["output-dir": ("output", false), "opts": ("", false)],   // opts: kiln's addition
        "meson/configure": ["output-dir": ("output", false), "opts": ("", false)],
        "meson/install": ["output-dir": ("output", false)],
        "test/tw/ldd-check": ["files": (nil, false), "exclude-files": ("", false), "packages": ("${{context.name}}", false),
                              "extra-library-paths": ("", false), "verbose": ("false", false)],
        "test/pkgconf": [:],
        "test/daemon-check-output": ["start": (nil, true), "setup": (nil, false), "post": (nil, false), "timeout": ("30", false),
                                     "expected_output": (nil, true),
                                     "error_strings": ("ERROR\nFAIL\nFATAL\nTraceback.*most.recent.call\nException in thread\njava.lang.NullPointerException\njava.lang.RuntimeException\nGem::MissingSpecError\ncommand not found\n", true)],
        "xcover/profile": ["package": ("xcover", false), "executable-path": (nil, true), "exclude-functions": (nil, false),
                           "include-functions": (nil, false), "scope": ("project", false), "log-level": ("info", false),
                           "verbose": ("false", false), "wait-timeout": ("60", false)],
        "xcover/wait": ["package": ("xcover", false), "wait-timeout": ("60", false)],
        "xcover/status": ["package": ("xcover", false)],
        "xcover/stop": ["package": ("xcover", false)],
        "xcover/ensure": ["package": ("xcover", false), "min-coverage": ("", false)],
        "npm/install": ["package": (nil, true), "version": (nil, true), "prefix": ("${{targets.contextdir}}/usr/", false),
                        "overrides": (nil, false), "npm-package": ("npm", false)],
    ]

    func testInputsDefaultsAndRequiredMatchMelange() throws {
        let lib = try DirectoryPipelineLibrary.standard()
        for (name, inputs) in Self.melange {
            guard let def = try lib.definition(named: name) else { XCTFail("kiln has no \(name)"); continue }
            XCTAssertEqual(Set(def.inputs.map(\.name)), Set(inputs.keys), name)
            for (k, (d, req)) in inputs {
                let i = def.input(k)
                XCTAssertEqual(i?.required, req, "\(name).\(k).required")
                // melange's missing default and '' behave the same (validateWith); compare modulo that
                XCTAssertEqual(i?.defaultValue ?? "", d ?? "", "\(name).\(k).default")
            }
        }
    }

    func recipe(_ steps: String, subpackages: String = "") throws -> Recipe {
        try RecipeParser().parse(text: "package: {name: app, version: '1.2', epoch: 0}\npipeline:\n\(steps)\(subpackages)", file: "r.yaml").recipe
    }

    func plan(_ steps: String, subpackages: String = "") throws -> BuildPlan {
        try PipelineExpander(library: try DirectoryPipelineLibrary.standard(), arch: "x86_64").plan(try recipe(steps, subpackages: subpackages))
    }

    func testRequiredInputsAreChecked() throws {
        for (name, inputs) in Self.melange {
            for (k, v) in inputs where v.1 && v.0 == nil {      // a required input with a default is never missing
                let others = inputs.filter { $0.value.1 && $0.key != k }.map { "      \($0.key): x\n" }.joined()
                let steps = "  - uses: \(name)\n" + (others.isEmpty ? "" : "    with:\n" + others)
                XCTAssertThrowsError(try plan(steps), "\(name) without \(k)") {
                    XCTAssertTrue("\($0)".contains("pipeline `\(name)` needs input `\(k)`"), "\($0)")
                }
            }
        }
    }

    func testExpandedCommands() throws {
        func script(_ steps: String) throws -> String { try plan(steps).steps.compactMap(\.script).joined(separator: "\n") }
        let go = try script("  - uses: go/build\n    with: {packages: ./cmd/app, output: app, ldflags: -X main.v=1}\n")
        XCTAssertTrue(go.contains("go build -o '/home/build/melange-out/app/usr/bin/app'"), go)
        XCTAssertTrue(go.contains("-tags 'netgo,osusergo,' -ldflags '-w -X main.v=1'"), go)
        XCTAssertTrue(go.contains("-trimpath -buildmode 'default'  ./cmd/app"), go)
        XCTAssertTrue(go.contains("GOAMD64='v2'"), go)
        let v2 = try plan("  - uses: go/build/v2\n")
        XCTAssertEqual(v2.steps.map(\.name), ["go/build/v2", "strip"], "v2 strips after building")
        XCTAssertEqual(v2.requiredCommands.map(\.command), ["go"])
        let gi = try script("  - uses: go/install\n    with: {package: example.com/x/cmd/y, version: v1.0.0}\n")
        XCTAssertTrue(gi.contains("-trimpath 'example.com/x/cmd/y'\"$v\""), gi)
        XCTAssertTrue(gi.contains("v='@v1.0.0'"), gi)
        let cargo = try script("  - uses: cargo/build\n    with: {output: app, jobs: '2'}\n")
        XCTAssertTrue(cargo.contains("--target-dir target --release $jobs"), cargo)
        XCTAssertTrue(cargo.contains("install -Dm755 'target/release/app' \"$dest/app\""), cargo)
        XCTAssertTrue(cargo.contains("jobs='--jobs 2'"), cargo)
        let perl = try script("  - uses: perl/make\n  - uses: perl/cleanup\n")
        XCTAssertTrue(perl.contains("perl -I. Makefile.PL INSTALLDIRS=vendor"), perl)
        XCTAssertTrue(perl.contains("find '/home/build/melange-out/app' \\( -name perllocal.pod -o -name .packlist \\) -delete"), perl)
        let py = try script("  - uses: python/build\n  - uses: python/install\n  - uses: python/build-wheel\n")
        XCTAssertTrue(py.contains("\"$py\" setup.py build"), py)
        XCTAssertTrue(py.contains("setup.py install --prefix=/usr --root='/home/build/melange-out/app'"), py)
        XCTAssertTrue(py.contains("-m installer -d '/home/build/melange-out/app' dist/*.whl"), py)
        XCTAssertEqual(try script("  - uses: python/test\n    with: {command: pytest -q}\n"), "pytest -q")
        let rb = try script("  - uses: ruby/build\n    with: {gem: rake}\n  - uses: ruby/install\n    with: {gem: rake, version: '13.0'}\n  - uses: ruby/clean\n")
        XCTAssertTrue(rb.contains("gem build 'rake.gemspec'"), rb)
        XCTAssertTrue(rb.contains("file='rake-13.0.gem'"), rb)
        XCTAssertTrue(rb.contains("--ignore-dependencies --no-document --verbose --local"), rb)
        let pecl = try script("  - uses: pecl/phpize\n  - uses: pecl/install\n    with: {extension: redis}\n")
        XCTAssertTrue(pecl.contains("./configure --prefix='/usr' --with-php-config='php-config'"), pecl)
        XCTAssertTrue(pecl.contains("echo 'extension=redis.so' > '/home/build/melange-out/app/etc/php/conf.d/redis.ini'"), pecl)
        let r = try script("  - uses: R/build\n    with: {package: DBI, version: '1.2'}\n")
        XCTAssertTrue(r.contains("install.packages(\".\", lib = \"'\"$lib\"'/\", repos = NULL, type = \"source\")"), r)
        let xc = try script("  - uses: xcover/profile\n    with: {executable-path: /usr/bin/app}\n  - uses: xcover/ensure\n    with: {min-coverage: '50'}\n")
        XCTAssertTrue(xc.contains("xcover run --path '/usr/bin/app'") && xc.contains("xcover wait --timeout '60s'"), xc)
        XCTAssertTrue(xc.contains("min='50'"), xc)
        let npm = try script("  - uses: npm/install\n    with: {package: yarn, version: 1.22.0}\n")
        XCTAssertTrue(npm.contains("install -g --offline 'yarn@1.22.0' -prefix \"$prefix\""), npm)
        XCTAssertTrue(npm.contains("prefix='/home/build/melange-out/app/usr/'"), npm)
        // needs.packages with an input substituted (melange mutates needs with the inputs)
        XCTAssertTrue(try plan("  - uses: go/build\n    with: {packages: ., output: a, go-package: go-1.22}\n").buildPackages.contains("go-1.22"))
    }

    /// The split pipelines, run for real with /bin/sh on a tree (the sandbox paths mapped to a temp dir).
    func testSplitPipelinesMoveTheRightFiles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let out = "\(dir)/melange-out"
        let main = "\(out)/app"
        let fm = FileManager.default
        for f in ["usr/share/man/man1/app.1", "usr/share/info/app.info", "usr/share/info/dir", "usr/share/doc/app/README",
                  "usr/lib/libapp.so.1.0", "usr/lib/libother.so.2", "usr/bin/app", "usr/include/app.h"] {
            try fm.createDirectory(atPath: "\(main)/\((f as NSString).deletingLastPathComponent)", withIntermediateDirectories: true)
            try Data("x\n".utf8).write(to: URL(fileURLWithPath: "\(main)/\(f)"))
        }
        try fm.createSymbolicLink(atPath: "\(main)/usr/lib/libapp.so.1", withDestinationPath: "libapp.so.1.0")
        let p = try plan("  - runs: true\n", subpackages: """
            subpackages:
              - name: app-doc
                pipeline: [{uses: split/alldocs}]
              - name: libapp
                pipeline: [{uses: split/lib, with: {patterns: app}}]
              - name: app-bin
                pipeline: [{uses: split/bin}]
            """)
        for step in p.steps.dropFirst() {
            try fm.createDirectory(atPath: "\(out)/\(step.package)", withIntermediateDirectories: true)
            let script = step.script!.replacingOccurrences(of: SandboxPaths.outdir, with: out)
            let r = try TestSupport.run("/bin/sh", ["-ec", script])
            XCTAssertEqual(r.status, 0, "\(step.package): \(r.err)")
        }
        func exists(_ p: String) -> Bool { var st = stat(); return lstat(p, &st) == 0 }
        XCTAssertTrue(exists("\(out)/app-doc/usr/share/man/man1/app.1"))
        XCTAssertTrue(exists("\(out)/app-doc/usr/share/info/app.info"))
        XCTAssertFalse(exists("\(out)/app-doc/usr/share/info/dir"), "info dir index is dropped")
        XCTAssertTrue(exists("\(out)/app-doc/usr/share/doc/app/README"))
        XCTAssertTrue(exists("\(out)/libapp/usr/lib/libapp.so.1.0"))
        XCTAssertTrue(exists("\(out)/libapp/usr/lib/libapp.so.1"), "the soname link moves too")
        XCTAssertTrue(exists("\(main)/usr/lib/libother.so.2"), "patterns: app leaves libother")
        XCTAssertTrue(exists("\(out)/app-bin/usr/bin/app"))
        XCTAssertTrue(exists("\(main)/usr/include/app.h"))
        XCTAssertFalse(exists("\(main)/usr/share"), "emptied doc directories are pruned")
        XCTAssertFalse(exists("\(main)/usr/bin"))
    }

    /// split/debug on a real ELF file (needs gcc and binutils, which `make deps` installs).
    func testSplitDebugKeepsDebugInfoApart() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let out = "\(dir)/melange-out"
        try FileManager.default.createDirectory(atPath: "\(out)/app/usr/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(out)/app-dbg", withIntermediateDirectories: true)
        try "int main(void){return 0;}\n".write(toFile: "\(dir)/m.c", atomically: true, encoding: .utf8)
        XCTAssertEqual(try TestSupport.run("/usr/bin/gcc", ["-g", "-o", "\(out)/app/usr/bin/app", "\(dir)/m.c"]).status, 0)
        let p = try plan("  - runs: true\n", subpackages: "subpackages:\n  - name: app-dbg\n    pipeline: [{uses: split/debug}]\n")
        let script = p.steps[1].script!.replacingOccurrences(of: SandboxPaths.outdir, with: out)
        let r = try TestSupport.run("/bin/sh", ["-ec", script])
        XCTAssertEqual(r.status, 0, r.err)
        let dbg = "\(out)/app-dbg/usr/lib/debug/usr/bin/app.debug"
        XCTAssertTrue(FileManager.default.fileExists(atPath: dbg))
        let sections = try TestSupport.run("/usr/bin/readelf", ["-S", "\(out)/app/usr/bin/app"]).out
        XCTAssertTrue(sections.contains(".gnu_debuglink"), sections)
        XCTAssertFalse(sections.contains(".debug_info"), sections)
        XCTAssertEqual(try TestSupport.run("\(out)/app/usr/bin/app", []).status, 0, "the stripped program still runs")
    }

    func testMissingToolchainCommandFailsBeforeTheFirstStep() throws {
        let p = try plan("  - uses: go/build\n    with: {packages: ., output: a}\n  - uses: R/build\n    with: {package: x, version: '1'}\n")
        XCTAssertEqual(p.requiredCommands.map(\.command), ["go", "Rscript"])
        let empty = try TestSupport.temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: "\(empty)/usr/bin", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(empty)/usr/bin/go", withDestinationPath: "/etc/alternatives/go")
        XCTAssertThrowsError(try BuildRootCheck.check(p.requiredCommands, toolchain: Toolchain(name: "debian-bookworm", rootPath: empty),
                                                      layers: [], what: "app")) {
            let m = "\($0)"
            XCTAssertFalse(m.contains("  go "), "a link in the root counts: \(m)")
            XCTAssertTrue(m.contains("Rscript (Debian package r-base-core) — needed by `R/build` at r.yaml:5:11"), m)
            XCTAssertTrue(m.contains("recipes/toolchain/bookworm.lock"), m)
        }
        XCTAssertTrue(BuildRootCheck.has("sh", in: [""]))
        XCTAssertFalse(BuildRootCheck.has("../sh", in: [""]))
    }

    /// test/tw/ldd-check, run for real with /bin/sh: passes for a program whose libraries resolve,
    /// fails naming the library for one whose library is gone.
    func testLddCheckFindsMissingLibraries() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try "int f(void){return 0;}\n".write(toFile: "\(dir)/f.c", atomically: true, encoding: .utf8)
        try "int f(void); int main(void){return f();}\n".write(toFile: "\(dir)/m.c", atomically: true, encoding: .utf8)
        XCTAssertEqual(try TestSupport.run("/usr/bin/gcc", ["-shared", "-fPIC", "-o", "\(dir)/libkilnf.so", "\(dir)/f.c"]).status, 0)
        XCTAssertEqual(try TestSupport.run("/usr/bin/gcc", ["-o", "\(dir)/m", "\(dir)/m.c", "-L\(dir)", "-lkilnf"]).status, 0)
        try FileManager.default.createDirectory(atPath: "\(dir)/lists", withIntermediateDirectories: true)
        // In the sandbox a package's files are symlinks into its tree: a link is followed, and a
        // file reached twice (itself and through a link) is checked once.
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/link-m", withDestinationPath: "\(dir)/m")
        try "\(dir)/m\n\(dir)/link-m\n/usr/bin/env\n".write(toFile: "\(dir)/lists/app.files", atomically: true, encoding: .utf8)
        try "\(dir)/link-m\n".write(toFile: "\(dir)/lists/linked.files", atomically: true, encoding: .utf8)
        let lib = try DirectoryPipelineLibrary.standard()
        let r = try RecipeParser().parse(text: """
            package: {name: app, version: '1'}
            test:
              pipeline:
                - uses: test/tw/ldd-check
                - uses: test/tw/ldd-check
                  with: {extra-library-paths: \(dir), verbose: true}
                - uses: test/tw/ldd-check
                  with: {packages: linked}
            """, file: "r.yaml").recipe
        let tests = try PipelineExpander(library: lib, arch: "x86_64").planTests(r)
        XCTAssertEqual(tests[0].requiredCommands.map(\.command), ["ldd", "readlink"])
        let scripts = tests[0].steps.map { $0.script!.replacingOccurrences(of: "/home/build/.kiln/packages", with: "\(dir)/lists") }
        let missing = try TestSupport.run("/bin/sh", ["-ec", scripts[0]])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("\(dir)/m: missing libraries") && missing.err.contains("libkilnf.so => not found"), missing.err)
        let found = try TestSupport.run("/bin/sh", ["-ec", scripts[1]])
        XCTAssertEqual(found.status, 0, found.err)
        XCTAssertTrue(found.out.contains("ldd-check: 2 dynamic ELF file(s) checked"), found.out)
        let linked = try TestSupport.run("/bin/sh", ["-ec", scripts[2]])
        XCTAssertEqual(linked.status, 1, "a package file that is a symlink to an ELF file is checked")
        XCTAssertTrue(linked.out.contains("ldd-check: 1 dynamic ELF file(s) checked"), linked.out)
    }

    /// test/daemon-check-output, run for real with /bin/sh: a daemon that prints what is expected
    /// passes (and is stopped); missing output or an error string fails.
    func testDaemonCheckOutput() throws {
        let lib = try DirectoryPipelineLibrary.standard()
        func run(_ with: String) throws -> (status: Int32, out: String, err: String) {
            let r = try RecipeParser().parse(text: "package: {name: app, version: '1'}\ntest:\n  pipeline:\n    - uses: test/daemon-check-output\n      with:\n\(with)", file: "r.yaml").recipe
            let script = try PipelineExpander(library: lib, arch: "x86_64").planTests(r)[0].steps[0].script!
            return try TestSupport.run("/bin/sh", ["-ec", script])
        }
        let started = Date()
        let ok = try run("        start: sh -c 'echo listening on 8080; exec sleep 60'\n        expected_output: listening on\n        setup: touch /tmp/kiln-dco-$$\n        post: 'true'\n")
        XCTAssertEqual(ok.status, 0, ok.out + ok.err)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "the daemon is stopped, not waited for")
        let bad = try run("        start: sh -c 'echo listening; echo FATAL disk gone; exec sleep 60'\n        expected_output: listening\n")
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("error string 'FATAL'"), bad.err)
        let none = try run("        start: sh -c 'echo hello'\n        expected_output: |\n          hello\n          ready\n        timeout: 2\n")
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.err.contains("expected output missing:\n> ready"), none.err)
    }
}
