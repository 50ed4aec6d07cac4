import Foundation
import KilnAPK
import KilnCrypto
import KilnTestSupport
import XCTest

/// A test signing key (RSA 2048 to keep tests fast), saved as `<dir>/kiln-test.rsa` and
/// `<dir>/kiln-test.rsa.pub` like `make keys` does for the dev key.
struct TestKey {
    let dir: String
    let privatePath: String
    let publicPath: String
    let signer: APKSigner
    var keyring: APKKeyring { var r = APKKeyring(); try! r.add(path: publicPath); return r }

    static func make(in dir: String, name: String = "kiln-test.rsa") throws -> TestKey {
        let k = try PrivateKey.generate(.rsa(bits: 2048))
        let priv = dir + "/" + name
        try k.save(to: priv)
        try k.publicKey.pem().write(to: URL(fileURLWithPath: priv + ".pub"))
        return TestKey(dir: dir, privatePath: priv, publicPath: priv + ".pub", signer: try APKSigner.load(path: priv))
    }
}

/// Independent view of a package/index file from Python's zlib + tarfile (not kiln's code).
struct PyView: Decodable {
    struct Entry: Decodable {
        var name: String, type: String, mode: Int, uid: Int, gid: Int, uname: String, gname: String
        var mtime: Int, size: Int, linkname: String, pax: [String: String]
        var sha1: String?, text: String?, b64: String?
    }
    struct Member: Decodable {
        var offset: Int, length: Int, mtime: Int, flags: Int, os: Int
        var sha1_b64: String, sha256: String, tar_len: Int, zero_blocks: Int, magic: String
        var entries: [Entry]
    }
    var size: Int
    var members: [Member]

    static let script = #"""
import sys, zlib, json, hashlib, tarfile, io, base64
data = open(sys.argv[1], 'rb').read()
members = []; off = 0
while off < len(data):
    d = zlib.decompressobj(31)
    out = d.decompress(data[off:]); out += d.flush()
    assert d.eof, "truncated gzip member"
    used = len(data) - off - len(d.unused_data)
    members.append((off, used, out)); off += used
res = []
for (o, l, out) in members:
    raw = data[o:o+l]
    m = {"offset": o, "length": l, "mtime": int.from_bytes(raw[4:8], 'little'), "flags": raw[3], "os": raw[9],
         "sha1_b64": base64.b64encode(hashlib.sha1(raw).digest()).decode(), "sha256": hashlib.sha256(raw).hexdigest(),
         "tar_len": len(out), "zero_blocks": sum(1 for i in range(0, len(out), 512) if out[i:i+512] == b'\0' * 512),
         "magic": out[257:265].hex() if len(out) >= 265 else ""}
    ents = []
    with tarfile.open(fileobj=io.BytesIO(out), mode='r:') as tf:
        for ti in tf:
            e = {"name": ti.name, "type": ti.type.decode(), "mode": ti.mode, "uid": ti.uid, "gid": ti.gid,
                 "uname": ti.uname, "gname": ti.gname, "mtime": int(ti.mtime), "size": ti.size,
                 "linkname": ti.linkname, "pax": ti.pax_headers}
            if ti.isfile():
                c = tf.extractfile(ti).read()
                e["sha1"] = hashlib.sha1(c).hexdigest()
                if ti.name in ('.PKGINFO', 'APKINDEX', 'DESCRIPTION') or ti.name.endswith('.spdx.json'):
                    e["text"] = c.decode()
                if ti.name.startswith('.SIGN.'):
                    e["b64"] = base64.b64encode(c).decode()
            ents.append(e)
    m["entries"] = ents
    res.append(m)
print(json.dumps({"size": len(data), "members": res}))
"""#

    static func load(_ path: String) throws -> PyView {
        let r = try TestSupport.run("python3", ["-c", script, path])
        guard r.status == 0 else { throw KilnTestError("python check failed: \(r.err)") }
        return try JSONDecoder().decode(PyView.self, from: Data(r.out.utf8))
    }
}

struct KilnTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

enum Fixture {
    static func write(_ path: String, _ s: String, mode: Int = 0o644) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(s.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }

    /// A small tree: a program, a script, a config file, a symlink, a hardlink, directories.
    static func simpleTree(_ root: String) throws {
        try write(root + "/usr/bin/hello", "#!/bin/bash\necho hello\n", mode: 0o755)
        try write(root + "/usr/share/hello/greeting.txt", "hello, world\n")
        try write(root + "/etc/hello.conf", "greeting=hi\n")
        try FileManager.default.createSymbolicLink(atPath: root + "/usr/bin/hi", withDestinationPath: "hello")
        try FileManager.default.linkItem(atPath: root + "/usr/share/hello/greeting.txt", toPath: root + "/usr/share/hello/greeting2.txt")
        for d in ["usr", "usr/bin", "usr/share", "usr/share/hello", "etc"] { chmod(root + "/" + d, 0o755) }
    }

    static func spec(_ name: String = "hello", version: String = "2.12.1", epoch: Int = 1) -> PackageSpec {
        var s = PackageSpec(name: name, version: version, epoch: epoch, arch: "x86_64")
        s.description = "A friendly greeter"
        s.url = "https://example.org/hello"
        s.license = "GPL-3.0-or-later"
        s.commit = "0123456789abcdef0123456789abcdef01234567"
        s.maintainer = "Kiln Test <test@example.org>"
        s.buildDate = 1_700_000_000
        s.supplier = "Example Corp"
        s.distro = "kiln"
        s.sources = [.init(uri: "https://example.org/hello-2.12.1.tar.gz", sha256: String(repeating: "ab", count: 32))]
        s.dependencies.runtime = ["ca-certificates"]
        s.dependencies.replaces = ["hello-old"]
        s.dependencies.providerPriority = 10
        s.scriptlets.postInstall = "#!/bin/sh\necho installed\n"
        return s
    }

    static func sh(_ args: [String], cwd: String? = nil) throws -> String {
        let r = try TestSupport.run(args[0], Array(args.dropFirst()), cwd: cwd)
        guard r.status == 0 else { throw KilnTestError("\(args.joined(separator: " ")) failed: \(r.err)") }
        return r.out
    }
}

enum KilnBinary {
    /// The built kiln: next to the test bundle (Linux: the .xctest file's folder).
    static var path: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent().appendingPathComponent("kiln").path,
            TestSupport.kilnExecutable,
            TestSupport.packageRoot + "/.build/debug/kiln",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static func run(_ args: [String], environment: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(path, args, environment: environment)
    }
}
