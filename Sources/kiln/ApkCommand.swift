import ArgumentParser
import Foundation
import KilnAPK
import KilnCore
import KilnCrypto

/// `kiln apk verify|info`: check and show APK v2 packages (and APKINDEX.tar.gz files).
struct ApkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apk",
        abstract: "Verify APK packages and indexes, or show their metadata.",
        subcommands: [ApkVerifyCommand.self, ApkInfoCommand.self])
}

/// Trusted keys from the command line: --key files and --keyring directories; with neither,
/// the repository's `keys/` directory when it exists.
struct KeyringOptions: ParsableArguments {
    @Option(name: .long, help: "Trusted public key file (repeatable); its file name is the key name, e.g. kiln-dev.rsa.pub.")
    var key: [String] = []

    @Option(name: .long, help: "Directory of trusted public keys, named as in the signatures (default: ./keys if present).")
    var keyring: [String] = []

    @Flag(name: .long, help: "Accept packages whose signing key is not trusted (hashes are still checked).")
    var allowUntrusted = false

    func load() throws -> APKKeyring {
        var ring = APKKeyring()
        var dirs = keyring
        if key.isEmpty && keyring.isEmpty && FileManager.default.fileExists(atPath: "keys") { dirs = ["keys"] }
        for d in dirs {
            let r = try APKKeyring(directory: d)
            for (n, k) in r.keys { ring.add(name: n, key: k) }
        }
        for k in key { try ring.add(path: k) }
        return ring
    }
}

struct ApkVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify .apk files (structure, signature, data hash, per-file checksums) and APKINDEX.tar.gz files (signature, records).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keys: KeyringOptions

    @Argument(help: "Files to verify (.apk or APKINDEX.tar.gz).")
    var files: [String]

    func run() throws {
        let ring = try keys.load()
        let opts = APKVerifyOptions(keyring: ring, allowUntrusted: keys.allowUntrusted)
        var failed = 0
        for f in files {
            do {
                if URL(fileURLWithPath: f).lastPathComponent.hasPrefix("APKINDEX") {
                    let idx = try APKIndex.read(path: f, options: opts)
                    print("\(f): OK: index with \(idx.records.count) packages, signed by \(idx.trustedKey ?? "an untrusted key")")
                } else {
                    let p = try APKReader.read(path: f, options: opts)
                    print("\(f): OK: \(p.info.pkgname)-\(p.info.pkgver) \(p.checksum), signed by \(p.trustedKey ?? "an untrusted key"), \(p.entries.count) entries")
                }
            } catch let e as KilnError {
                failed += 1
                FileHandle.standardError.write(Data("kiln: error: \(e.description)\n".utf8))
            }
        }
        if failed > 0 { throw ExitStatus(code: 1, message: "\(failed) of \(files.count) files failed verification") }
    }
}

struct ApkInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a package's metadata (.PKGINFO, checksums, signatures, files).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var keys: KeyringOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "List the files.")
    var files = false

    @Argument(help: "The .apk file.")
    var file: String

    struct FileInfo: Codable {
        var path: String, type: String, mode: String, uid: Int, gid: Int, uname: String, gname: String
        var size: Int64, sha1: String?, target: String?
    }
    struct Info: Codable {
        var file: String, fileSize: Int, checksum: String, datahash: String
        var signatures: [String], trustedKey: String?
        var pkginfo: PkgInfo
        var scripts: [String]
        var files: [FileInfo]
    }

    func run() throws {
        var ring = try keys.load()
        if ring.isEmpty { ring = APKKeyring() }
        // info shows untrusted packages too (it says so); verify is the strict command.
        let p = try APKReader.read(path: file, options: APKVerifyOptions(keyring: ring, allowUntrusted: true))
        let fileInfos: [FileInfo] = p.entries.map { e in
            let t: String
            switch e.kind {
            case .file: t = "file"
            case .directory: t = "dir"
            case .symlink: t = "symlink"
            case .hardlink: t = "hardlink"
            case .characterDevice: t = "chardev"
            case .blockDevice: t = "blockdev"
            case .fifo: t = "fifo"
            case .other(let flag): t = "typeflag \(flag)"
            }
            return FileInfo(path: e.path, type: t, mode: String(format: "%04o", e.mode), uid: e.uid, gid: e.gid,
                            uname: e.uname, gname: e.gname, size: e.size, sha1: p.checksumSHA1(of: e), target: e.linkTarget)
        }
        let info = Info(file: file, fileSize: p.fileSize, checksum: p.checksum, datahash: p.dataHash,
                        signatures: p.signatures.map { ".SIGN.\($0.type).\($0.keyName)" }, trustedKey: p.trustedKey,
                        pkginfo: p.info, scripts: p.scripts.keys.sorted(), files: fileInfos)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try enc.encode(info), as: UTF8.self))
            return
        }
        let i = p.info
        print("\(i.pkgname)-\(i.pkgver) (\(i.arch))")
        print("  description: \(i.pkgdesc)")
        if !i.url.isEmpty { print("  url:         \(i.url)") }
        print("  license:     \(i.license)")
        if let o = i.origin { print("  origin:      \(o)") }
        if let m = i.maintainer { print("  maintainer:  \(m)") }
        if let c = i.commit { print("  commit:      \(c)") }
        print("  build date:  \(i.builddate) (\(SourceDateEpoch.rfc3339(i.builddate)))")
        print("  installed:   \(i.size) bytes; file \(p.fileSize) bytes")
        print("  checksum:    \(p.checksum)")
        print("  datahash:    \(p.dataHash)")
        print("  signatures:  \(p.signatures.map { ".SIGN.\($0.type).\($0.keyName)" }.joined(separator: ", "))"
              + (p.trustedKey.map { " (trusted: \($0))" } ?? " (NOT verified: no trusted key; use `kiln apk verify --key`)"))
        if !i.depends.isEmpty { print("  depends:     \(i.depends.joined(separator: " "))") }
        if !i.provides.isEmpty { print("  provides:    \(i.provides.joined(separator: " "))") }
        if !i.replaces.isEmpty { print("  replaces:    \(i.replaces.joined(separator: " "))") }
        if !i.installIf.isEmpty { print("  install_if:  \(i.installIf.joined(separator: " "))") }
        if !p.scripts.isEmpty { print("  scripts:     \(p.scripts.keys.sorted().joined(separator: " "))") }
        print("  entries:     \(p.entries.count)")
        if files {
            for f in fileInfos {
                print("    \(f.mode) \(f.uname):\(f.gname) \(f.type) \(f.path)" + (f.target.map { " -> \($0)" } ?? ""))
            }
        }
    }
}
