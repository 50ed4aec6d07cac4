import Foundation
import KilnArchive
import KilnCore
import KilnCrypto
import KilnOCI
import KilnTestSupport
import XCTest

/// Builds FIPS-like images for the audit tests: one real gzip'd tar layer (real digests) holding the
/// host's glibc, libcrypto/libssl, the real FIPS provider from out/test/fips, an enforcing
/// openssl.cnf, programs compiled with gcc in the test, and an apk installed database whose F:/R:
/// lines give every file its package.
struct AuditFixture {
    struct File { var path: String; var data: Data; var mode: UInt32 = 0o644; var owner: String?; var link: String? = nil }

    static let epoch: Int64 = 1_700_000_000
    /// The real provider `make test-fips-provider` builds: `$OPENSSL_MODULES` (what `make test` sets), else out/test/fips.
    static let fipsDir: String = {
        if let m = ProcessInfo.processInfo.environment["OPENSSL_MODULES"], FileManager.default.fileExists(atPath: m + "/fips.so") { return m }
        return TestSupport.packageRoot + "/out/test/fips"
    }()
    static let hostLib = "/usr/lib/x86_64-linux-gnu"

    var files: [File] = []
    var env: [String] = ["PATH=/usr/bin:/bin"]
    var annotations: [String: String] = [:]

    static func read(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }

    static let enforcingConfig = TestSupport.fipsEnforcingConfig(include: "/usr/lib/ssl/fipsmodule.cnf")

    /// The clean image: passes every check.
    static func clean(dir: String) throws -> AuditFixture {
        var f = AuditFixture()
        let lib = "usr/lib/x86_64-linux-gnu"
        f.files += [
            File(path: "lib/x86_64-linux-gnu/libc.so.6", data: try read("/lib/x86_64-linux-gnu/libc.so.6"), mode: 0o755, owner: "glibc"),
            File(path: "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", data: try read("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), mode: 0o755, owner: "glibc"),
            File(path: "lib64/ld-linux-x86-64.so.2", data: Data(), owner: "glibc", link: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
            File(path: "\(lib)/libcrypto.so.3", data: try read("\(hostLib)/libcrypto.so.3"), mode: 0o755, owner: "libcrypto3"),
            File(path: "\(lib)/libssl.so.3", data: try read("\(hostLib)/libssl.so.3"), mode: 0o755, owner: "libssl3"),
            File(path: "\(lib)/ossl-modules/fips.so", data: try read(fipsDir + "/fips.so"), mode: 0o755, owner: "openssl-fips-provider"),
            File(path: "usr/lib/ssl/fipsmodule.cnf", data: try read(fipsDir + "/fipsmodule.cnf"), owner: "openssl-fips-provider"),
            File(path: "usr/lib/ssl/openssl.cnf", data: Data(enforcingConfig.utf8), owner: "openssl-config-fips"),
            File(path: "usr/bin/digest", data: try Programs.shared.digest(dir), mode: 0o755, owner: "digest"),
        ]
        return f
    }

    mutating func replace(_ path: String, with data: Data) {
        if let i = files.firstIndex(where: { $0.path == path }) { files[i].data = data }
    }

    var installedDB: String {
        var byOwner: [String: [String]] = [:]
        for f in files { if let o = f.owner { byOwner[o, default: []].append(f.path) } }
        var s = ""
        for (pkg, paths) in byOwner.sorted(by: { $0.key < $1.key }) {
            s += "C:Q1\(Data(pkg.utf8).base64EncodedString())=\nP:\(pkg)\nV:1.0-r0\nA:x86_64\nS:1\nI:1\nT:\(pkg)\nL:MIT\n"
            s += "o:\(pkg.hasPrefix("lib") && pkg.hasSuffix("3") ? "openssl" : pkg)\nt:\(AuditFixture.epoch)\n"
            var lastDir: String?
            for p in paths.sorted() {
                let dir = (p as NSString).deletingLastPathComponent
                if dir != lastDir { s += "F:\(dir)\n"; lastDir = dir }
                s += "R:\((p as NSString).lastPathComponent)\n"
            }
            s += "\n"
        }
        return s
    }

    /// Tar entries for `files` plus the installed database (parent directories included).
    func entries(_ files: [File], whiteouts: [String] = []) -> [TarEntry] {
        var entries: [TarEntry] = []
        var dirs = Set<String>(["lib/apk/db"])
        for p in files.map(\.path) + whiteouts { var d = (p as NSString).deletingLastPathComponent; while !d.isEmpty { dirs.insert(d); d = (d as NSString).deletingLastPathComponent } }
        for d in dirs.sorted() { entries.append(TarEntry(path: d, kind: .directory, mode: 0o755)) }
        entries.append(.file("lib/apk/db/installed", Data(installedDB.utf8)))
        for f in files {
            if let l = f.link { entries.append(.symlink(f.path, to: l)) } else { entries.append(.file(f.path, f.data, mode: f.mode)) }
        }
        for w in whiteouts { entries.append(.file((w as NSString).deletingLastPathComponent + "/.wh." + (w as NSString).lastPathComponent, Data())) }
        return entries
    }

    /// The clean image's files as one gzip'd layer, made once per test run (TarWriter and gzip
    /// of ~8 MB cost seconds in a debug build); each variant adds a small top layer.
    static let baseLayer = LayerCache()
    final class LayerCache: @unchecked Sendable {
        private let lock = NSLock()
        private var value: (files: [File], blob: Data, diffID: String)?
        func get(_ make: () throws -> (files: [File], blob: Data, diffID: String)) rethrows -> (files: [File], blob: Data, diffID: String) {
            lock.lock(); defer { lock.unlock() }
            if let value { return value }
            let v = try make()
            value = v
            return v
        }
    }

    /// Writes the image into a fresh layout under `dir` tagged `tag`: the cached clean layer, then a
    /// layer with whatever this fixture adds, replaces (same path) or removes (whiteouts) and its
    /// installed database. Returns `layout:tag`.
    @discardableResult
    func write(dir: String, tag: String = "img") throws -> String {
        let layoutPath = dir + "/layout-\(UUID().uuidString.prefix(8))"
        let layout = try OCILayout.create(at: layoutPath)
        let base = try AuditFixture.baseLayer.get {
            let clean = try AuditFixture.clean(dir: dir)
            let tar = try TarWriter.archive(clean.entries(clean.files), options: TarWriterOptions(epoch: AuditFixture.epoch))
            return (clean.files, try Gzip.compress(tar), "sha256:" + (try Digest.sha256Hex(tar)))
        }
        let changed = files.filter { f in !base.files.contains { $0.path == f.path && $0.data == f.data && $0.link == f.link } }
        let removed = base.files.map(\.path).filter { p in !files.contains { $0.path == p } }
        let tar = try TarWriter.archive(entries(changed, whiteouts: removed), options: TarWriterOptions(epoch: AuditFixture.epoch))
        let l0 = try layout.writeBlob(base.blob, mediaType: OCIMediaType.imageLayerGzip)
        let l1 = try layout.writeBlob(try Gzip.compress(tar), mediaType: OCIMediaType.imageLayerGzip)
        let config: JSON = [
            "architecture": "amd64", "os": "linux",
            "config": .object([("Env", .array(env.map(JSON.string))), ("Entrypoint", ["/usr/bin/digest"])]),
            "rootfs": ["type": "layers", "diff_ids": [.string(base.diffID), .string("sha256:" + (try Digest.sha256Hex(tar)))]],
        ]
        let cfg = try layout.writeBlob(config.compact(), mediaType: OCIMediaType.imageConfig)
        var manifest: JSON = ["schemaVersion": 2, "mediaType": .string(OCIMediaType.imageManifest), "config": cfg.json, "layers": [l0.json, l1.json]]
        if !annotations.isEmpty {
            manifest = manifest.setting("annotations", .object(annotations.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
        }
        let m = try layout.writeBlob(manifest.compact(), mediaType: OCIMediaType.imageManifest)
        try layout.setTag(tag, to: m)
        return layoutPath + ":" + tag
    }
}

/// Programs compiled once per test run with the host's gcc (make deps installs gcc, libc6-dev, libssl-dev).
final class Programs: @unchecked Sendable {
    static let shared = Programs()
    private var cache: [String: Data] = [:]
    private let lock = NSLock()

    func compile(_ name: String, _ source: String, _ flags: [String], dir: String) throws -> Data {
        lock.lock(); defer { lock.unlock() }
        if let d = cache[name] { return d }
        let src = dir + "/\(name).c", bin = dir + "/\(name).bin"
        try source.write(toFile: src, atomically: true, encoding: .utf8)
        let r = try TestSupport.run("/usr/bin/gcc", ["-O1", "-o", bin, src] + flags)
        guard r.status == 0 else { throw NSError(domain: "gcc", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: "gcc \(name): \(r.err)"]) }
        let d = try Data(contentsOf: URL(fileURLWithPath: bin))
        cache[name] = d
        return d
    }

    /// A dynamic program linking libcrypto.so.3 (prints OpenSSL's version number).
    func digest(_ dir: String) throws -> Data {
        try compile("digest", """
            #include <stdio.h>
            extern unsigned long OpenSSL_version_num(void);
            int main(void) { printf("%lx\\n", OpenSSL_version_num()); return 0; }
            """, ["-lcrypto"], dir: dir)
    }

    /// The same program with RUNPATH /tmp.
    func runpathTmp(_ dir: String) throws -> Data {
        try compile("runpath", """
            #include <stdio.h>
            extern unsigned long OpenSSL_version_num(void);
            int main(void) { printf("%lx\\n", OpenSSL_version_num()); return 0; }
            """, ["-lcrypto", "-Wl,-rpath,/tmp", "-Wl,--enable-new-dtags"], dir: dir)
    }

    /// A static program carrying its own AES S-box (home-grown crypto).
    func staticAES(_ dir: String) throws -> Data {
        try compile("aes", """
            #include <stdio.h>
            static const unsigned char sbox[256] = {
              0x63,0x7c,0x77,0x7b,0xf2,0x6b,0x6f,0xc5,0x30,0x01,0x67,0x2b,0xfe,0xd7,0xab,0x76,
              0xca,0x82,0xc9,0x7d,0xfa,0x59,0x47,0xf0,0xad,0xd4,0xa2,0xaf,0x9c,0xa4,0x72,0xc0 };
            int main(int argc, char **argv) { printf("%d\\n", sbox[argc & 31]); return 0; }
            """, ["-static"], dir: dir)
    }

    /// A program with a crafted `.go.buildinfo` section: Go 1.18+ header, inline strings, module
    /// info without any FIPS setting.
    func goBinary(_ dir: String, settings: [String] = ["-buildmode=exe", "CGO_ENABLED=0", "GOARCH=amd64", "GOOS=linux"],
                  name: String = "gobin", version: String = "go1.27.3") throws -> Data {
        var blob: [UInt8] = [0xff] + Array(" Go buildinf:".utf8) + [8, 2] + [UInt8](repeating: 0, count: 16)
        func put(_ b: [UInt8]) { var n = b.count; while n >= 0x80 { blob.append(UInt8(n & 0x7f) | 0x80); n >>= 7 }; blob.append(UInt8(n)); blob += b }
        put(Array(version.utf8))
        let start: [UInt8] = [0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18, 0xe6]
        let end: [UInt8] = [0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8, 0xf2]
        let mod = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n" + settings.map { "build\t\($0)\n" }.joined()
        put(start + Array(mod.utf8) + end)
        let bytes = blob.map { String(format: "0x%02x", $0) }.joined(separator: ",")
        return try compile(name, """
            __attribute__((section(".go.buildinfo"), used)) static const unsigned char buildinfo[] = { \(bytes) };
            int main(void) { return 0; }
            """, [], dir: dir)
    }

    /// A shared object with SONAME libcrypto.so.3 (a bundled copy of "libcrypto").
    func sonameLibcrypto(_ dir: String) throws -> Data {
        try compile("libcrypto", "unsigned long OpenSSL_version_num(void) { return 0x30000000UL; }\n",
                    ["-shared", "-fPIC", "-Wl,-soname,libcrypto.so.3"], dir: dir)
    }

    /// A stand-in for CPython's `_md5` extension module (exports PyInit__md5).
    func pythonMD5(_ dir: String) throws -> Data {
        try compile("md5mod", "void *PyInit__md5(void) { return 0; }\n", ["-shared", "-fPIC"], dir: dir)
    }
}
