import Foundation
import KilnBuild
import KilnCore
import KilnCrypto
import KilnRecipe
import KilnTestSupport
import XCTest

/// Real builds in the real bubblewrap sandbox, from a tarball the test makes and caches.
final class SandboxBuildTests: XCTestCase {
    /// A small C project with a hand-written `configure`, a static library and a man page.
    static func makeProject(in dir: String, version: String = "1.2") throws -> (tarball: String, sha256: String) {
        let src = "\(dir)/hello-\(version)"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let files: [String: String] = [
            "configure": """
            #!/bin/sh
            prefix=/usr; libdir=/usr/lib
            for a in "$@"; do
              case "$a" in
                --prefix=*) prefix="${a#*=}" ;;
                --libdir=*) libdir="${a#*=}" ;;
                --host=*|--build=*|--sysconfdir=*|--mandir=*|--infodir=*|--localstatedir=*) ;;
                *) echo "configure: unknown option $a" >&2; exit 1 ;;
              esac
            done
            printf 'PREFIX=%s\\nLIBDIR=%s\\n' "$prefix" "$libdir" > config.mk
            echo "configured for $prefix"

            """,
            "Makefile": """
            include config.mk
            all: hello libgreet.a
            greet.o: greet.c greet.h
            \tcc -O2 -c greet.c -o greet.o
            libgreet.a: greet.o
            \tar rcD libgreet.a greet.o
            hello: main.c libgreet.a
            \tcc -O2 -g main.c libgreet.a -o hello
            install: all
            \tinstall -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1
            \tinstall -m 755 hello $(DESTDIR)$(PREFIX)/bin/hello
            \tinstall -m 644 libgreet.a $(DESTDIR)$(LIBDIR)/libgreet.a
            \tinstall -m 644 greet.h $(DESTDIR)$(PREFIX)/include/greet.h
            \tinstall -m 644 hello.1 $(DESTDIR)$(PREFIX)/share/man/man1/hello.1

            """,
            "main.c": "#include \"greet.h\"\nint main(void){greet();return 0;}\n",
            "greet.c": "#include <stdio.h>\n#include \"greet.h\"\nvoid greet(void){puts(\"hello from kiln\");}\n",
            "greet.h": "void greet(void);\n",
            "hello.1": ".TH HELLO 1\n",
        ]
        for (name, text) in files {
            try AtomicFile.write(text, to: "\(src)/\(name)", mode: name == "configure" ? 0o755 : 0o644)
        }
        let tarball = "\(dir)/hello-\(version).tar.gz"
        try Subprocess("tar", ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner",
                               "-czf", tarball, "-C", dir, "hello-\(version)"]).check()
        return (tarball, try Digest.hashFile(.sha256, path: tarball).hexString)
    }

    static func recipe(sha256: String, extraSteps: String = "") -> String {
        """
        package:
          name: hello
          version: "1.2"
          epoch: 3
          description: a greeting
          copyright:
            - license: MIT
          dependencies:
            runtime: [libc]
        environment:
          contents:
            packages: [build-base, busybox]
          environment:
            GREETING: hi
        var-transforms:
          - from: ${{package.version}}
            match: ^(\\d+)\\.(\\d+)$
            replace: $1_$2
            to: underscored
        pipeline:
          - uses: fetch
            with:
              uri: https://example.invalid/hello-${{package.version}}.tar.gz
              expected-sha256: \(sha256)
          - uses: autoconf/configure
          - uses: autoconf/make
          - uses: autoconf/make-install
          - name: record
            runs: |
              mkdir -p ${{targets.destdir}}/usr/share/hello
              echo "${{vars.underscored}} $GREETING ${{build.variant}} $SOURCE_DATE_EPOCH" > ${{targets.destdir}}/usr/share/hello/info
        \(extraSteps)
          - uses: strip
          - runs: |
              mkdir -p ${{targets.destdir}}/etc
              echo "greeting = hi" > ${{targets.destdir}}/etc/hello.conf
        subpackages:
          - name: ${{package.name}}-dev
            description: headers for ${{package.name}}
            pipeline:
              - uses: split/dev
          - name: hello-doc
            pipeline:
              - uses: split/manpages
        """
    }

    struct Setup { var dir: String; var recipe: String; var cache: String; var sha: String }

    /// A recipe with no sources and just `steps` (fast: no compiler).
    func prepareMinimal(steps: String) throws -> Setup {
        let dir = try TestSupport.temporaryDirectory(self)
        let recipe = "\(dir)/hello.yaml"
        try AtomicFile.write("package:\n  name: hello\n  version: \"1.2\"\n  epoch: 3\npipeline:\n" + steps, to: recipe)
        return Setup(dir: dir, recipe: recipe, cache: "\(dir)/cache", sha: "")
    }

    func prepare(extraSteps: String = "") throws -> Setup {
        let dir = try TestSupport.temporaryDirectory(self)
        let (tarball, sha) = try Self.makeProject(in: dir)
        let cache = "\(dir)/cache"
        try SourceCache(root: cache).add(file: tarball)
        let recipe = "\(dir)/hello.yaml"
        try AtomicFile.write(Self.recipe(sha256: sha, extraSteps: extraSteps), to: recipe)
        return Setup(dir: dir, recipe: recipe, cache: cache, sha: sha)
    }

    func request(_ s: Setup, out: String) -> BuildRequest {
        var r = BuildRequest(recipePath: s.recipe, outputDirectory: out, arch: "x86_64")
        r.sourceCache = s.cache
        r.download = false
        r.sourceDateEpoch = 1_700_000_000
        return r
    }

    let quiet = Progress(quiet: true)

    /// Paths, modes, sizes, mtimes and content digests of every entry below `root`.
    func manifest(_ root: String) throws -> [String] {
        var out: [String] = []
        let e = FileManager.default.enumerator(atPath: root)!
        while let f = e.nextObject() as? String {
            let p = "\(root)/\(f)"
            var st = stat()
            XCTAssertEqual(lstat(p, &st), 0)
            var line = "\(f) \(String(st.st_mode, radix: 8)) \(st.st_mtim.tv_sec)"
            if (st.st_mode & S_IFMT) == S_IFREG { line += " " + (try Digest.hashFile(.sha256, path: p).hexString) }
            if (st.st_mode & S_IFMT) == S_IFLNK { line += " -> " + (try FileManager.default.destinationOfSymbolicLink(atPath: p)) }
            out.append(line)
        }
        return out.sorted()
    }

    func testAutoconfBuildWithSubpackagesAndSplitDev() throws {
        let s = try prepare()
        let out = "\(s.dir)/out"
        let result = try Builder(progress: quiet).build(request(s, out: out))
        let trees = "\(out)/trees/x86_64"
        XCTAssertEqual(result.packages.map(\.name), ["hello", "hello-dev", "hello-doc"])
        XCTAssertEqual(result.package.fullVersion, "1.2-r3")
        XCTAssertEqual(result.package.runtime, ["libc"])
        XCTAssertEqual(result.subpackages[0].description, "headers for hello")
        XCTAssertEqual(result.sources.map(\.sha256), [s.sha])
        XCTAssertEqual(result.sources.first?.uri, "https://example.invalid/hello-1.2.tar.gz")
        XCTAssertEqual(result.providedByToolchain, ["build-base", "busybox"])
        // main package: the binary (stripped, runs), no headers, no static lib, no man page
        let hello = "\(trees)/hello/usr/bin/hello"
        XCTAssertEqual(try Subprocess(hello).run().stdoutString, "hello from kiln\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees)/hello/usr/include"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees)/hello/usr/lib/libgreet.a"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(trees)/hello/usr/share/man"))
        XCTAssertEqual(try String(contentsOfFile: "\(trees)/hello/usr/share/hello/info", encoding: .utf8),
                       "1_2 hi standard 1700000000\n")
        // split/dev and split/manpages moved the files
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(trees)/hello-dev/usr/include/greet.h"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(trees)/hello-dev/usr/lib/libgreet.a"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(trees)/hello-doc/usr/share/man/man1/hello.1"))
        // stripped (strip -g): built with -g, no debug sections left
        let sections = try Subprocess("readelf", ["-S", "-W", hello]).check().stdoutString
        XCTAssertFalse(sections.contains(".debug_info"), sections)
        XCTAssertTrue(sections.contains(".text"), sections)
        // mtimes clamped to SOURCE_DATE_EPOCH, result and log written, scratch space gone
        XCTAssertTrue(try manifest("\(trees)/hello").allSatisfy { $0.contains(" 1700000000") })
        let saved = try BuildResult.read(from: "\(trees)/hello.build.json")
        XCTAssertEqual(saved.subpackages.map(\.tree), ["\(trees)/hello-dev", "\(trees)/hello-doc"])
        XCTAssertTrue(try String(contentsOfFile: result.log, encoding: .utf8).contains("configured for /usr"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(out)/tmp"), [])
    }

    func testTwoBuildsInDifferentDirectoriesGiveIdenticalTrees() throws {
        let s = try prepare()
        let a = try Builder(progress: quiet).build(request(s, out: "\(s.dir)/a/out"))
        let b = try Builder(progress: quiet).build(request(s, out: "\(s.dir)/elsewhere/b"))
        for (x, y) in zip(a.packages, b.packages) {
            let mx = try manifest(x.tree), my = try manifest(y.tree)
            XCTAssertFalse(mx.isEmpty)
            XCTAssertEqual(mx, my, "tree of \(x.name) differs between builds")
        }
    }

    func testVariantSelectsBuildOption() throws {
        let s = try prepare()
        var text = try String(contentsOfFile: s.recipe, encoding: .utf8)
        text += "\noptions:\n  fips:\n    vars:\n      flavour: strict\n"
        text = text.replacingOccurrences(of: "${{build.variant}}", with: "${{build.variant}}")
        try AtomicFile.write(text, to: s.recipe)
        var req = request(s, out: "\(s.dir)/out")
        req.variant = "fips"
        let r = try Builder(progress: quiet).build(req)
        XCTAssertEqual(r.variant, "fips")
        XCTAssertEqual(try String(contentsOfFile: "\(r.package.tree)/usr/share/hello/info", encoding: .utf8),
                       "1_2 hi fips 1700000000\n")
        req.variant = "nope"
        XCTAssertThrowsError(try Builder(progress: quiet).build(req))
    }

    func testFixedEnvironmentAndUmask() throws {
        let s = try prepare(extraSteps: """
          - runs: |
              env | grep -v '^_=' | grep -v '^SHLVL=' | grep -v '^PWD=' | grep -v '^OLDPWD=' | sort > ${{targets.destdir}}/env
              umask > ${{targets.destdir}}/umask
              hostname > ${{targets.destdir}}/hostname 2>/dev/null || cat /proc/sys/kernel/hostname > ${{targets.destdir}}/hostname
              ls / | sort | tr '\\n' ' ' > ${{targets.destdir}}/rootdirs
              ls /etc | sort | tr '\\n' ' ' > ${{targets.destdir}}/etc-list
        """)
        setenv("KILN_TEST_LEAK", "secret", 1)
        defer { unsetenv("KILN_TEST_LEAK") }
        let r = try Builder(progress: quiet).build(request(s, out: "\(s.dir)/out"))
        let env = try String(contentsOfFile: "\(r.package.tree)/env", encoding: .utf8)
        let names = env.split(separator: "\n").map { String($0.split(separator: "=")[0]) }
        XCTAssertEqual(Set(names), ["GREETING", "HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "SOURCE_DATE_EPOCH",
                                    "TERM", "TZ", "USER"], env)
        XCTAssertTrue(env.contains("HOME=/home/build\n"))
        XCTAssertTrue(env.contains("TZ=UTC\n"))
        XCTAssertTrue(env.contains("SOURCE_DATE_EPOCH=1700000000\n"))
        XCTAssertEqual(try String(contentsOfFile: "\(r.package.tree)/umask", encoding: .utf8), "0022\n")
        XCTAssertEqual(try String(contentsOfFile: "\(r.package.tree)/hostname", encoding: .utf8), "kiln\n")
        let etc = try String(contentsOfFile: "\(r.package.tree)/etc-list", encoding: .utf8)
        XCTAssertFalse(etc.contains("shadow"), "host /etc must not be visible: \(etc)")
        XCTAssertFalse(etc.contains("hostname"), etc)
        let roots = try String(contentsOfFile: "\(r.package.tree)/rootdirs", encoding: .utf8)
        XCTAssertFalse(roots.contains("root "), "host /root must not be visible: \(roots)")
        XCTAssertFalse(roots.contains("work"), roots)
    }

    /// melange runs a build's (and a test's) steps in one container: a file one step leaves in /tmp
    /// is there for the next (Wolfi's potrace test writes /tmp/test.pbm in one step and reads it in
    /// the next). Two builds do not share it, and nothing of it reaches the package.
    func testTmpIsSharedByTheStepsOfOneBuildAndOneTest() throws {
        let s = try prepareMinimal(steps: """
          - runs: test ! -e /tmp/left-by-step-1 && echo kept > /tmp/left-by-step-1 && ls -ld /tmp > /tmp/mode
          - runs: |
              mkdir -p ${{targets.destdir}}/usr/share/hello
              cat /tmp/left-by-step-1 /tmp/mode > ${{targets.destdir}}/usr/share/hello/tmp
        test:
          pipeline:
            - runs: test ! -e /tmp/left-by-step-1 && echo test > /tmp/t1
            - runs: grep -x test /tmp/t1

        """)
        let req = request(s, out: "\(s.dir)/out")
        let r = try Builder(progress: quiet).build(req)
        let seen = try String(contentsOfFile: "\(r.package.tree)/usr/share/hello/tmp", encoding: .utf8)
        XCTAssertTrue(seen.hasPrefix("kept\ndrwxrwxrwt"), "step 2 sees step 1's file in a sticky world-writable /tmp: \(seen)")
        _ = try Builder(progress: quiet).build(req)   // a second build starts with an empty /tmp (step 1 checks)
        XCTAssertEqual(try Builder(progress: quiet).test(req).first?.stepsRun, 2)
    }

    /// A TCP listener on the host's loopback: reachable from the host, not from the sandbox.
    func testStepReachingTheNetworkFails() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        XCTAssertEqual(listen(fd, 16), 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let probe = "exec 3<>/dev/tcp/127.0.0.1/\(port) && echo connected"
        // Control: the same probe works outside the sandbox.
        XCTAssertEqual(try Subprocess("bash", ["-c", probe]).run().stdoutString, "connected\n")

        let s = try prepareMinimal(steps: "  - runs: echo before\n  - name: phone home\n    runs: bash -c '\(probe)'\n")
        let out = "\(s.dir)/out"
        XCTAssertThrowsError(try Builder(progress: quiet).build(request(s, out: out))) { e in
            guard let f = e as? BuildFailure else { return XCTFail("\(e)") }
            XCTAssertEqual(f.step, "phone home")
            XCTAssertNotEqual(f.status, 0)
            XCTAssertTrue(f.description.contains("Connection refused") || f.description.contains("Network is unreachable"), f.description)
            XCTAssertTrue(f.description.contains("hello.yaml:"), f.description)
            XCTAssertTrue(f.description.contains("full log: \(out)/logs/hello-1.2-r3-x86_64.log"), f.description)
            XCTAssertTrue(FileManager.default.fileExists(atPath: f.logPath))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(out)/trees/x86_64/hello"), "no tree after a failed build")
        // Only the failed build's workspace is left, kept (with its record) for `kiln build --resume`.
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: "\(out)/tmp")) ?? [], ["resume-hello-x86_64-standard"])
        XCTAssertEqual(try ResumeRecord.read(from: "\(out)/tmp/resume-hello-x86_64-standard/resume.json")?.failedStepName, "phone home")
    }

    func testStepWritingOutsideItsWorkspaceFails() throws {
        let marker = "kiln-escape-\(UUID().uuidString)"
        for target in ["/usr/\(marker)", "/etc/\(marker)", "/\(marker)", "/var/\(marker)", "/home/\(marker)"] {
            let s = try prepareMinimal(steps: "  - name: escape\n    runs: echo x > \(target)\n")
            XCTAssertThrowsError(try Builder(progress: quiet).build(request(s, out: "\(s.dir)/out")), target) { e in
                XCTAssertTrue((e as? BuildFailure)?.description.contains("Read-only file system") ?? false, "\(e)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        }
        // /tmp is a private tmpfs: writable, but nothing reaches the host's /tmp
        let s = try prepareMinimal(steps: "  - runs: echo x > /tmp/\(marker)\n")
        _ = try Builder(progress: quiet).build(request(s, out: "\(s.dir)/out"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/\(marker)"))
    }

    func testWrongDigestIsRejectedAndNotKept() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let (tarball, sha) = try Self.makeProject(in: dir)
        let wrong = String(repeating: "ab", count: 32)
        let cache = SourceCache(root: "\(dir)/cache")
        let req = FetchRequest(uri: tarball, sha256: wrong, sha512: nil, location: SourceLocation(file: "r.yaml", line: 12, column: 5))
        let policy = FetchPolicy(localRoots: [dir])
        XCTAssertThrowsError(try cache.fetch(req, download: true, policy: policy)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix("r.yaml:12:5: sha256 mismatch"), text)
            XCTAssertTrue(text.contains("expected-sha256 \(wrong)"), text)
            XCTAssertFalse(text.contains(sha), "a local file's digest must not be shown: \(text)")
        }
        XCTAssertEqual(try cache.entries(), [])
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/cache/tmp")) ?? [], [])
        // the right digest downloads (here: copies) once, then is served from the cache
        let good = FetchRequest(uri: tarball, sha256: sha, sha512: nil, location: req.location)
        XCTAssertEqual(try cache.fetch(good, download: true, policy: policy).sha256, sha)
        try FileManager.default.removeItem(atPath: tarball)
        XCTAssertEqual(try cache.fetch(good, download: false).sha256, sha)
        XCTAssertEqual(try cache.entries().map(\.sha256), [sha])
        let sha512 = try Digest.hashFile(.sha512, path: cache.path(sha256: sha)).hexString
        XCTAssertEqual(try cache.entries().first?.sha512, sha512)
        XCTAssertNotNil(cache.lookup(FetchRequest(uri: "x", sha256: nil, sha512: sha512, location: req.location)))
        // missing and offline: a clear error
        XCTAssertThrowsError(try cache.fetch(req, download: false)) { e in
            XCTAssertTrue("\(e)".contains("not in the source cache"), "\(e)")
        }
    }

    func testPatchFromSourceDirectory() throws {
        let s = try prepare(extraSteps: "")
        let patched = try String(contentsOfFile: s.recipe, encoding: .utf8).replacingOccurrences(
            of: "  - uses: autoconf/configure\n", with: "  - uses: patch\n    with:\n      patches: fix.patch\n  - uses: autoconf/configure\n")
        try AtomicFile.write(patched, to: s.recipe)
        let good = """
        --- a/greet.c
        +++ b/greet.c
        @@ -1,3 +1,3 @@
         #include <stdio.h>
         #include "greet.h"
        -void greet(void){puts("hello from kiln");}
        +void greet(void){puts("patched hello");}

        """
        // default source dir: <recipe dir>/<package name>/
        try AtomicFile.write(good, to: "\(s.dir)/hello/fix.patch")
        let r = try Builder(progress: quiet).build(request(s, out: "\(s.dir)/out"))
        XCTAssertEqual(try Subprocess("\(r.package.tree)/usr/bin/hello").run().stdoutString, "patched hello\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(r.package.tree)/fix.patch"))

        try AtomicFile.write(good.replacingOccurrences(of: " #include \"greet.h\"", with: " #include \"other.h\""),
                             to: "\(s.dir)/hello/fix.patch")
        XCTAssertThrowsError(try Builder(progress: quiet).build(request(s, out: "\(s.dir)/out2"))) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("Hunk #1 FAILED"), text)
            XCTAssertTrue(text.contains("patch: fix.patch did not apply"), text)
        }
    }

    func testTestBlocksRunAgainstTheBuiltPackage() throws {
        let s = try prepare()
        func write(_ expect: String) throws {
            var text = try String(contentsOfFile: s.recipe, encoding: .utf8)
            if let r = text.range(of: "\ntest:") { text = String(text[..<r.lowerBound]) }
            text += "\n"
            text += """
            test:
              environment:
                contents:
                  packages: [hello-dev, busybox]
              pipeline:
                - runs: |
                    hello | grep -x "\(expect)"
                    test -f /usr/include/greet.h
                    test -x /bin/hello
                    ! touch /usr/bin/kiln-test-escape
                    grep -x "greeting = hi" /etc/hello.conf
                    ! touch /etc/kiln-test-escape
                    test -f /etc/passwd
                - uses: test/from-another-distro

            """
            try AtomicFile.write(text, to: s.recipe)
        }
        try write("hello from kiln")
        let req = request(s, out: "\(s.dir)/out")
        XCTAssertThrowsError(try Builder(progress: quiet).test(req)) { e in
            XCTAssertTrue("\(e)".contains("run `kiln build"), "\(e)")
        }
        _ = try Builder(progress: quiet).build(req)
        let outcomes = try Builder(progress: quiet).test(req)
        XCTAssertEqual(outcomes.map(\.package), ["hello"])
        XCTAssertEqual(outcomes.first?.stepsRun, 1)
        XCTAssertEqual(outcomes.first?.skipped.count, 1)
        XCTAssertTrue(outcomes.first?.skipped.first?.contains("test/from-another-distro") ?? false)
        // the host's /usr/bin has no hello: only the laid-over package tree provides it
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/usr/bin/hello"))

        try write("goodbye")
        XCTAssertThrowsError(try Builder(progress: quiet).test(req)) { e in
            guard let f = e as? TestFailure else { return XCTFail("\(e)") }
            XCTAssertEqual(f.package, "hello")
            XCTAssertTrue(f.logPath.hasSuffix("/logs/hello-1.2-r3-x86_64-test.log"), f.logPath)
        }
    }

    /// A toolchain root that is not the host: only its contents are visible (here: dash and libc).
    func testNonHostToolchainRoot() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let root = "\(dir)/root"
        let fm = FileManager.default
        for d in ["usr/bin", "usr/lib/x86_64-linux-gnu", "usr/lib64", "etc"] {
            try fm.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
        for l in ["bin": "usr/bin", "lib": "usr/lib", "lib64": "usr/lib64"] {
            try fm.createSymbolicLink(atPath: "\(root)/\(l.key)", withDestinationPath: l.value)
        }
        try fm.copyItem(atPath: ("/usr/bin/dash" as NSString).resolvingSymlinksInPath, toPath: "\(root)/usr/bin/sh")
        try fm.copyItem(atPath: ("/lib/x86_64-linux-gnu/libc.so.6" as NSString).resolvingSymlinksInPath, toPath: "\(root)/usr/lib/x86_64-linux-gnu/libc.so.6")
        try fm.copyItem(atPath: ("/lib64/ld-linux-x86-64.so.2" as NSString).resolvingSymlinksInPath, toPath: "\(root)/usr/lib64/ld-linux-x86-64.so.2")
        try AtomicFile.write("mini\n", to: "\(root)/etc/os-name")
        let recipe = "\(dir)/mini.yaml"
        try AtomicFile.write("""
        package:
          name: mini
          version: "1"
        pipeline:
          - working-directory: sub/dir
            runs: |
              read name < /etc/os-name
              echo "$name $PWD" > ${{targets.destdir}}/out
              if [ -e /usr/bin/gcc ] || [ -e /usr/bin/bash ]; then echo "host leaked"; exit 1; fi

        """, to: recipe)
        var req = BuildRequest(recipePath: recipe, outputDirectory: "\(dir)/out", arch: "x86_64")
        req.toolchain = Toolchain(name: "mini", rootPath: root, lockDigest: "00")
        req.sourceDateEpoch = 0
        let r = try Builder(progress: quiet).build(req)
        XCTAssertEqual(r.toolchain, "mini")
        XCTAssertEqual(r.toolchainLockDigest, "00")
        XCTAssertEqual(try String(contentsOfFile: "\(r.package.tree)/out", encoding: .utf8), "mini /home/build/sub/dir\n")
        req.toolchain = Toolchain(name: "empty", rootPath: "\(dir)/nothing")
        XCTAssertThrowsError(try Builder(progress: quiet).build(req)) { e in XCTAssertTrue("\(e)".contains("empty"), "\(e)") }
    }

    /// A recipe's build packages that kiln built before (their trees) are laid over the root.
    func testBuildDependencyFromAnEarlierBuild() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("""
        package:
          name: app
          version: "2"
        environment:
          contents:
            packages: [build-base, libgreet-dev>=1]
        pipeline:
          - runs: |
              printf '#include <greet.h>\\nint main(void){greet();return 0;}\\n' > main.c
              cc main.c -lgreet -o app
              install -D -m 755 app ${{targets.destdir}}/usr/bin/app

        """, to: "\(dir)/app.yaml")
        try AtomicFile.write("""
        package:
          name: libgreet
          version: "1"
        pipeline:
          - runs: |
              printf 'void greet(void);\\n' > greet.h
              printf '#include <stdio.h>\\nvoid greet(void){puts("greetings from a kiln-built library");}\\n' > greet.c
              cc -c greet.c -o greet.o && ar rc libgreet.a greet.o
              install -D -m 644 greet.h ${{targets.destdir}}/usr/include/greet.h
              install -D -m 644 libgreet.a ${{targets.destdir}}/usr/lib/libgreet.a
        subpackages:
          - name: libgreet-dev
            pipeline:
              - uses: split/dev

        """, to: "\(dir)/libgreet.yaml")
        let recipes = try ["\(dir)/app.yaml", "\(dir)/libgreet.yaml"].map { try RecipeParser().parse(path: $0).recipe }
        let ordered = try Builder.order(recipes)
        XCTAssertEqual(ordered.map(\.package.name), ["libgreet", "app"])
        var results: [BuildResult] = []
        for r in ordered {
            var req = BuildRequest(recipePath: r.file, outputDirectory: "\(dir)/out", arch: "x86_64")
            req.sourceDateEpoch = 0
            results.append(try Builder(progress: quiet).build(req))
        }
        XCTAssertEqual(results[1].installedFromRepository, ["libgreet-dev>=1"])
        XCTAssertEqual(results[1].providedByToolchain, ["build-base"])
        XCTAssertEqual(try Subprocess("\(results[1].package.tree)/usr/bin/app").run().stdoutString,
                       "greetings from a kiln-built library\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/usr/include/greet.h"), "the host must not have it")
    }

    /// A -dev package's relative symlink (libgreet.so -> libgreet.so.1) resolves in the merged
    /// /usr/lib although its target comes from another package's layer (the libcrypto.so case).
    func testRelativeSymlinkAcrossPackagesResolves() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        try AtomicFile.write("""
        package:
          name: libgreet
          version: "1"
        pipeline:
          - runs: |
              printf 'void greet(void);\\n' > greet.h
              printf '#include <stdio.h>\\nvoid greet(void){puts("hello from a shared kiln library");}\\n' > greet.c
              cc -shared -fPIC -Wl,-soname,libgreet.so.1 greet.c -o libgreet.so.1
              install -D -m 644 greet.h ${{targets.destdir}}/usr/include/greet.h
              install -D -m 755 libgreet.so.1 ${{targets.destdir}}/usr/lib/libgreet.so.1
              ln -s libgreet.so.1 ${{targets.destdir}}/usr/lib/libgreet.so
        subpackages:
          - name: libgreet-dev
            pipeline:
              - uses: split/dev

        """, to: "\(dir)/libgreet.yaml")
        try AtomicFile.write("""
        package:
          name: app
          version: "2"
        environment:
          contents:
            packages: [build-base, libgreet, libgreet-dev]
        pipeline:
          - runs: |
              test -L /usr/lib/libgreet.so && test -e /usr/lib/libgreet.so
              printf '#include <greet.h>\\nint main(void){greet();return 0;}\\n' > main.c
              cc main.c -lgreet -o app
              install -D -m 755 app ${{targets.destdir}}/usr/bin/app

        """, to: "\(dir)/app.yaml")
        var results: [BuildResult] = []
        for name in ["libgreet", "app"] {
            var req = BuildRequest(recipePath: "\(dir)/\(name).yaml", outputDirectory: "\(dir)/out", arch: "x86_64")
            req.sourceDateEpoch = 0
            results.append(try Builder(progress: quiet).build(req))
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/out/trees/x86_64/libgreet-dev/usr/lib/libgreet.so"), "libgreet.so.1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/out/trees/x86_64/libgreet-dev/usr/lib/libgreet.so.1"))
        let run = try Subprocess("\(results[1].package.tree)/usr/bin/app",
                                 environment: ["LD_LIBRARY_PATH": "\(dir)/out/trees/x86_64/libgreet/usr/lib"]).run()
        XCTAssertEqual(run.stdoutString, "hello from a shared kiln library\n", run.stderrString)
    }

    func testDependencyOrder() throws {
        let p = RecipeParser()
        let a = try p.parse(text: "package: {name: app, version: 1}\nenvironment: {contents: {packages: [libfoo-dev]}}\n", file: "a.yaml").recipe
        let b = try p.parse(text: "package: {name: libfoo, version: 1}\nsubpackages: [{name: libfoo-dev}]\n", file: "b.yaml").recipe
        XCTAssertEqual(try Builder.order([a, b]).map(\.package.name), ["libfoo", "app"])
        let c = try p.parse(text: "package: {name: libfoo-dev, version: 1}\nenvironment: {contents: {packages: [app]}}\n", file: "c.yaml").recipe
        XCTAssertThrowsError(try Builder.order([a, c]))
    }

    func testBuiltinPipelinesAllParse() throws {
        let lib = try DirectoryPipelineLibrary.standard()
        for n in ["fetch", "patch", "autoconf/configure", "autoconf/make", "autoconf/make-install", "cmake/configure",
                  "cmake/build", "cmake/install", "meson/configure", "meson/compile", "meson/install", "strip",
                  "split/dev", "split/static", "split/manpages", "split/infodir", "split/locales"] {
            XCTAssertNotNil(try lib.definition(named: n), n)
        }
    }
}
