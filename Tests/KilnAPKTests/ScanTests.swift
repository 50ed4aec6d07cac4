import Foundation
import KilnAPK
import KilnTestSupport
import KilnArchive
import XCTest

/// ELF parsing and automatic dependencies on real binaries built with gcc: a shared library with a
/// SONAME and a program that links it and libcrypto.
final class ScanTests: XCTestCase {
    var tmp = ""

    override func setUpWithError() throws {
        tmp = try TestSupport.temporaryDirectory(self, prefix: "kiln-scan")
    }

    /// Builds libfoo.so.1.2.3 (SONAME libfoo.so.1) and prog (needs libfoo.so.1, libcrypto.so.3).
    func buildBinaries() throws -> (lib: String, prog: String) {
        try Fixture.write(tmp + "/foo.c", "int foo(void) { return 42; }\n")
        try Fixture.write(tmp + "/main.c", """
            #include <openssl/crypto.h>
            extern int foo(void);
            int main(void) { return foo() == 42 && OpenSSL_version_num() > 0 ? 0 : 1; }
            """)
        _ = try Fixture.sh(["gcc", "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1.2.3", "foo.c"], cwd: tmp)
        _ = try Fixture.sh(["gcc", "-o", "prog", "main.c", "-L.", "-l:libfoo.so.1.2.3", "-lcrypto"], cwd: tmp)
        return (tmp + "/libfoo.so.1.2.3", tmp + "/prog")
    }

    func testELFParsingOfRealBinaries() throws {
        let (lib, prog) = try buildBinaries()
        let l = try XCTUnwrap(ELFInfo.parse(path: lib))
        XCTAssertEqual(l.soname, "libfoo.so.1")
        XCTAssertEqual(l.type, .sharedObject)
        XCTAssertNil(l.interpreter)
        XCTAssertTrue(l.is64Bit)
        let p = try XCTUnwrap(ELFInfo.parse(path: prog))
        XCTAssertNil(p.soname)
        XCTAssertTrue(p.needed.contains("libfoo.so.1"), "\(p.needed)")
        XCTAssertTrue(p.needed.contains("libcrypto.so.3"), "\(p.needed)")
        XCTAssertTrue(p.needed.contains("libc.so.6"), "\(p.needed)")
        let interp = try XCTUnwrap(p.interpreter)
        XCTAssertTrue(interp.hasPrefix("/lib") && interp.contains("ld-linux"), interp)
        // Stripped of section headers-independent data: the parser works from program headers.
        _ = try Fixture.sh(["strip", "-o", tmp + "/prog.stripped", prog])
        XCTAssertEqual(ELFInfo.parse(path: tmp + "/prog.stripped")?.needed, p.needed)
        // Not ELF / malformed: nil, never a crash.
        XCTAssertNil(ELFInfo.parse(Data("#!/bin/sh\n".utf8)))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: prog))
        for n in stride(from: 0, to: min(bytes.count, 4096), by: 7) { _ = ELFInfo.parse(bytes.prefix(n)) }
        var junk = bytes
        for i in stride(from: 64, to: min(junk.count, 2048), by: 3) { junk[i] = 0xff }
        _ = ELFInfo.parse(junk)
    }

    func testScanGivesSoCmdPcAndInterpreterDependencies() throws {
        let (lib, prog) = try buildBinaries()
        // Library package.
        let libRoot = tmp + "/libfoo"
        try FileManager.default.createDirectory(atPath: libRoot + "/usr/lib/pkgconfig", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: lib, toPath: libRoot + "/usr/lib/libfoo.so.1.2.3")
        try FileManager.default.createSymbolicLink(atPath: libRoot + "/usr/lib/libfoo.so.1", withDestinationPath: "libfoo.so.1.2.3")
        try Fixture.write(libRoot + "/usr/lib/pkgconfig/foo.pc", "prefix=/usr\nName: foo\nVersion: 1.2.3\nRequires: bar >= 1.0, baz\nRequires.private: zlib\nLibs: -lfoo\n")
        var spec = PackageSpec(name: "libfoo", version: "1.2.3", epoch: 0, arch: "x86_64")
        spec.buildDate = 1
        let libPkg = try APKWriter.build(spec: spec, root: libRoot, signer: nil)
        XCTAssertTrue(libPkg.info.provides.contains("so:libfoo.so.1=1"), "\(libPkg.info.provides)")
        XCTAssertTrue(libPkg.info.provides.contains("pc:foo=1.2.3-r0"), "\(libPkg.info.provides)")
        XCTAssertTrue(libPkg.info.depends.contains("pc:bar"))
        XCTAssertTrue(libPkg.info.depends.contains("pc:baz"))
        XCTAssertTrue(libPkg.info.depends.contains("pc:zlib"))
        // Program package.
        let progRoot = tmp + "/progpkg"
        try FileManager.default.createDirectory(atPath: progRoot + "/usr/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: prog, toPath: progRoot + "/usr/bin/prog")
        try Fixture.write(progRoot + "/usr/bin/tool", "#!/usr/bin/env perl\nprint 1;\n", mode: 0o755)
        try Fixture.write(progRoot + "/usr/bin/shtool", "#!/bin/sh\necho\n", mode: 0o755)
        try Fixture.write(progRoot + "/usr/share/doc/notexec", "#!/bin/zsh\n", mode: 0o755)
        spec = PackageSpec(name: "prog", version: "1.0", epoch: 2, arch: "x86_64")
        let progPkg = try APKWriter.build(spec: spec, root: progRoot, signer: nil)
        let d = progPkg.info.depends
        XCTAssertTrue(d.contains("so:libfoo.so.1"), "\(d)")
        XCTAssertTrue(d.contains("so:libcrypto.so.3"), "a binary linking libcrypto depends on so:libcrypto.so.3: \(d)")
        XCTAssertTrue(d.contains { $0.hasPrefix("so:ld-linux") }, "interpreter dependency: \(d)")
        XCTAssertTrue(d.contains("cmd:perl"), "env interpreter: \(d)")
        XCTAssertFalse(d.contains("cmd:sh"), "sh is skipped like melange does")
        XCTAssertFalse(d.contains("cmd:zsh"), "scripts outside bin dirs are not scanned")
        XCTAssertEqual(d, d.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        XCTAssertEqual(Set(progPkg.info.provides), ["cmd:prog=1.0-r2", "cmd:tool=1.0-r2", "cmd:shtool=1.0-r2"])
        // Options.
        spec.options = .init(noProvides: false, noDepends: false, noCommands: true)
        let noCmd = try APKWriter.build(spec: spec, root: progRoot, signer: nil).info
        XCTAssertTrue(noCmd.provides.isEmpty); XCTAssertFalse(noCmd.depends.contains("cmd:perl"))
        XCTAssertTrue(noCmd.depends.contains("so:libcrypto.so.3"))
        spec.options = .init(noProvides: true, noDepends: true, noCommands: false)
        spec.dependencies.runtime = ["explicit"]
        let none = try APKWriter.build(spec: spec, root: progRoot, signer: nil).info
        XCTAssertEqual(none.depends, ["explicit"], "no-depends keeps declared depends only")
        XCTAssertEqual(none.provides, [])
        // Self-provided: lib and program in one package → no so:libfoo.so.1 depend.
        try FileManager.default.copyItem(atPath: prog, toPath: libRoot + "/usr/lib/prog-helper")
        let both = try APKWriter.build(spec: PackageSpec(name: "both", version: "1", epoch: 0, arch: "x86_64"), root: libRoot, signer: nil).info
        XCTAssertFalse(both.depends.contains("so:libfoo.so.1"), "\(both.depends)")
        XCTAssertTrue(both.provides.contains("so:libfoo.so.1=1"))
        // Debian's multiarch lib dir (the imported C runtime) provides too; a deeper dir does not.
        let multi = tmp + "/multiarch"
        try FileManager.default.createDirectory(atPath: multi + "/lib/x86_64-linux-gnu/sub", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: lib, toPath: multi + "/lib/x86_64-linux-gnu/libfoo.so.1.2.3")
        try FileManager.default.copyItem(atPath: lib, toPath: multi + "/lib/x86_64-linux-gnu/sub/libfoo.so.1.2.3")
        let m = try APKWriter.build(spec: PackageSpec(name: "multi", version: "1", epoch: 0, arch: "x86_64"), root: multi, signer: nil).info
        XCTAssertEqual(m.provides, ["so:libfoo.so.1=1"])
    }

    func testHelpers() {
        XCTAssertTrue(DependencyScanner.isLibDir("usr/lib/x86_64-linux-gnu"))
        XCTAssertTrue(DependencyScanner.isLibDir("lib64"))
        XCTAssertFalse(DependencyScanner.isLibDir("usr/lib/x86_64-linux-gnu/gconv"))
        XCTAssertFalse(DependencyScanner.isLibDir("usr/libexec"))
        XCTAssertEqual(DependencyScanner.sonameLibver("libfoo.so.1.2"), "1.2")
        XCTAssertEqual(DependencyScanner.sonameLibver("libfoo.so"), "0")
        XCTAssertEqual(DependencyScanner.sonameLibver("libfoo.so.1a"), "0")
        XCTAssertEqual(DependencyScanner.shebangInterpreter(Data("#!/usr/bin/python3.11 -u\n".utf8)), "python3.11")
        XCTAssertEqual(DependencyScanner.shebangInterpreter(Data("#!/usr/bin/env -S perl -w\n".utf8)), "perl")
        XCTAssertNil(DependencyScanner.shebangInterpreter(Data("#!/bin/sh\n".utf8)))
        XCTAssertNil(DependencyScanner.shebangInterpreter(Data("echo\n".utf8)))
        XCTAssertEqual(DependencyScanner.pkgConfigRequires("Requires: a >= 1, b\nRequires.private: c = 2 d\nName: x\n"), ["a", "b", "c", "d"])
    }
}
