import Foundation
import KilnArchive
import KilnCrypto
import XCTest

/// Builds signed APK v2 packages and a signed APKINDEX for tests, byte for byte as
/// docs/apk-format.md describes (sig || control || data gzip members, RSA-SHA256).
/// (Shared by KilnImageTests and KilnHostileTests; KilnImage's reader is also checked against
/// kiln's own APK writer in KilnAPKInteropTests.)
public final class TestRepo {
    /// One package to write.
    public struct Pkg {
        public var name: String
        public var version: String
        public var origin: String?
        public var depends: [String]
        public var provides: [String]
        public var priority: Int?
        public var files: [TarEntry]
        public var builddate: Int64

        /// A package; everything but the name and version is optional.
        public init(name: String, version: String, origin: String? = nil, depends: [String] = [], provides: [String] = [],
                    priority: Int? = nil, files: [TarEntry] = [], builddate: Int64 = 1_700_000_000) {
            self.name = name; self.version = version; self.origin = origin; self.depends = depends; self.provides = provides
            self.priority = priority; self.files = files; self.builddate = builddate
        }
    }

    public let dir: String
    public let key: PrivateKey
    public let keyName = "test-image.rsa.pub"
    public var keyPath: String { dir + "/" + keyName }
    public var repoDir: String { dir + "/repo" }
    public var records: [String] = []

    /// A repository under `dir` (`dir/repo/x86_64`) signed with the shared test key.
    public init(dir: String) throws {
        self.dir = dir
        key = try TestRepo.sharedKey()
        try FileManager.default.createDirectory(atPath: repoDir + "/x86_64", withIntermediateDirectories: true)
        try key.publicKey.pem().write(to: URL(fileURLWithPath: keyPath))
    }

    // Safe: every access holds `keyLock` (one RSA key generated per test process).
    nonisolated(unsafe) private static var cachedKey: PrivateKey?
    private static let keyLock = NSLock()
    /// One RSA-2048 key for the whole test process (generating one per test is slow).
    public static func sharedKey() throws -> PrivateKey {
        keyLock.lock()
        defer { keyLock.unlock() }
        if let k = cachedKey { return k }
        let k = try PrivateKey.generate(.rsa(bits: 2048))
        cachedKey = k
        return k
    }

    public static func gzipFragment(_ entries: [TarEntry]) throws -> Data {
        try Gzip.compress(TarWriter.archive(entries, options: TarWriterOptions(epoch: 1_700_000_000, endOfArchive: false)))
    }

    public func signatureMember(over data: Data) throws -> Data {
        let sig = try key.sign(data, digest: .sha256)
        return try TestRepo.gzipFragment([.file(".SIGN.RSA256." + keyName, Data(sig))])
    }

    /// Writes `<name>-<version>.apk` and remembers its index record.
    @discardableResult
    public func add(_ p: Pkg) throws -> String {
        var files = p.files
        for i in files.indices {
            switch files[i].kind {
            case .file:
                if case let .data(d) = files[i].content {
                    files[i].pax["APK-TOOLS.checksum.SHA1"] = try Digest.hash(.sha1, d).hexString
                }
            case let .symlink(t):
                files[i].pax["APK-TOOLS.checksum.SHA1"] = try Digest.hash(.sha1, Data(t.utf8)).hexString
            default: break
            }
        }
        let data = try Gzip.compress(TarWriter.archive(files, options: TarWriterOptions(epoch: p.builddate)))
        let datahash = try Digest.hash(.sha256, data).hexString
        var info = "pkgname = \(p.name)\npkgver = \(p.version)\npkgdesc = test package\nurl = \narch = x86_64\n"
        info += "origin = \(p.origin ?? p.name)\nbuilddate = \(p.builddate)\nlicense = MIT\n"
        let size = p.files.reduce(Int64(0)) { $0 + $1.size }
        info += "size = \(max(size, 1))\n"
        if let k = p.priority { info += "provider_priority = \(k)\n" }
        for d in p.depends { info += "depend = \(d)\n" }
        for d in p.provides { info += "provides = \(d)\n" }
        info += "datahash = \(datahash)\n"
        let control = try TestRepo.gzipFragment([.file(".PKGINFO", Data(info.utf8))])
        let apk = try signatureMember(over: control) + control + data
        let path = repoDir + "/x86_64/\(p.name)-\(p.version).apk"
        try apk.write(to: URL(fileURLWithPath: path))
        var rec = "C:Q1\(try Digest.hash(.sha1, control).base64String)\nP:\(p.name)\nV:\(p.version)\nA:x86_64\n"
        rec += "S:\(apk.count)\nI:\(max(size, 1))\nT:test package\nL:MIT\no:\(p.origin ?? p.name)\nt:\(p.builddate)\n"
        if let k = p.priority { rec += "k:\(k)\n" }
        if !p.depends.isEmpty { rec += "D:\(p.depends.joined(separator: " "))\n" }
        if !p.provides.isEmpty { rec += "p:\(p.provides.joined(separator: " "))\n" }
        records.append(rec)
        return path
    }

    /// Writes the signed APKINDEX.tar.gz.
    public func writeIndex(signed: Bool = true) throws {
        let text = records.joined(separator: "\n") + "\n"
        let index = try Gzip.compress(TarWriter.archive([.file("DESCRIPTION", Data("test".utf8)), .file("APKINDEX", Data(text.utf8))],
                                                        options: TarWriterOptions(epoch: 1_700_000_000)))
        let out = signed ? try signatureMember(over: index) + index : index
        try out.write(to: URL(fileURLWithPath: repoDir + "/x86_64/APKINDEX.tar.gz"))
    }

    public static func file(_ path: String, _ text: String, mode: UInt32 = 0o644) -> TarEntry {
        .file(path, Data(text.utf8), mode: mode)
    }

    /// A statically linked program printing `message` (built with the host's gcc).
    public static func staticProgram(_ message: String, dir: String) throws -> Data {
        let src = dir + "/prog-\(UUID().uuidString).c"
        let bin = src + ".bin"
        let escaped = message.replacingOccurrences(of: "\"", with: "\\\"")
        let c = """
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            printf("\(escaped) uid=%d gid=%d", (int)getuid(), (int)getgid());
            for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
            printf("\\n");
            return 0;
        }
        """
        try c.write(toFile: src, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        p.arguments = ["-static", "-O1", "-o", bin, src]
        try p.run(); p.waitUntilExit()
        guard p.terminationStatus == 0, let d = FileManager.default.contents(atPath: bin) else {
            throw NSError(domain: "test", code: 1, userInfo: [NSLocalizedDescriptionKey: "gcc -static failed (make deps installs gcc and libc6-dev)"])
        }
        return d
    }
}
