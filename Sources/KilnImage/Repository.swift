import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// One package as an APKINDEX describes it (letters from apk-tools package.c).
public struct IndexRecord: Hashable, Sendable {
    public var checksum = ""            // C: Q1 + base64(sha1(control member))
    public var name = ""                // P
    public var version = ""             // V
    public var arch = ""                // A
    public var size: Int64 = 0          // S (the .apk file)
    public var installedSize: Int64 = 0 // I
    public var description = ""         // T
    public var url = ""                 // U
    public var license = ""             // L
    public var origin = ""              // o
    public var maintainer = ""          // m
    public var buildDate: Int64 = 0     // t
    public var commit = ""              // c
    public var providerPriority: Int?   // k
    public var depends: [String] = []   // D
    public var provides: [String] = []  // p
    public var installIf: [String] = [] // i
    /// Where the .apk lives (set by the repository loader; empty for synthetic records in tests).
    public var location = ""
    /// Index of the repository in the configured order (earlier repositories win ties).
    public var repositoryIndex = 0

    public init() {}
    public init(name: String, version: String, depends: [String] = [], provides: [String] = [],
                origin: String? = nil, providerPriority: Int? = nil) {
        self.name = name; self.version = version; self.depends = depends; self.provides = provides
        self.origin = origin ?? name; self.providerPriority = providerPriority; self.arch = "x86_64"
    }

    public var nameVersion: String { "\(name)-\(version)" }

    /// Parses APKINDEX text (records separated by blank lines).
    public static func parseIndex(_ text: String, source: String) throws -> [IndexRecord] {
        var records: [IndexRecord] = []
        var current = IndexRecord()
        var lineNo = 0
        var startLine = 1
        func flush() throws {
            if current.name.isEmpty && current.version.isEmpty { current = IndexRecord(); return }
            guard !current.name.isEmpty, !current.version.isEmpty else {
                throw KilnMessage("\(source):\(startLine): APKINDEX record without P: or V:; regenerate the index with `kiln index`")
            }
            records.append(current)
            current = IndexRecord()
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty { try flush(); startLine = lineNo + 1; continue }
            guard line.count >= 2, line[line.index(after: line.startIndex)] == ":" else {
                throw KilnMessage("\(source):\(lineNo): malformed APKINDEX line '\(line.prefix(60))'")
            }
            let key = line.first!
            let value = String(line.dropFirst(2))
            switch key {
            case "C": current.checksum = value
            case "P": current.name = value
            case "V": current.version = value
            case "A": current.arch = value
            case "S": current.size = Int64(value) ?? 0
            case "I": current.installedSize = Int64(value) ?? 0
            case "T": current.description = value
            case "U": current.url = value
            case "L": current.license = value
            case "o": current.origin = value
            case "m": current.maintainer = value
            case "t": current.buildDate = Int64(value) ?? 0
            case "c": current.commit = value
            case "k": current.providerPriority = Int(value)
            case "D": current.depends = value.split(separator: " ").map(String.init)
            case "p": current.provides = value.split(separator: " ").map(String.init)
            case "i": current.installIf = value.split(separator: " ").map(String.init)
            default: break
            }
        }
        try flush()
        return records
    }

    /// The record as `lib/apk/db/installed` header lines (without the file list).
    func installedHeader() -> String {
        var s = ""
        func add(_ k: String, _ v: String) { if !v.isEmpty { s += "\(k):\(v)\n" } }
        add("C", checksum); add("P", name); add("V", version); add("A", arch)
        add("S", String(size)); add("I", String(installedSize)); add("T", description); add("U", url)
        add("L", license); add("o", origin); add("m", maintainer); add("t", String(buildDate)); add("c", commit)
        if let k = providerPriority { add("k", String(k)) }
        add("D", depends.joined(separator: " ")); add("p", provides.joined(separator: " "))
        add("i", installIf.joined(separator: " "))
        return s
    }
}

/// Errors about repositories and packages: name the file and what to do.
public struct RepositoryError: KilnError {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A trusted keyring: public keys by file name (apk looks keys up by the name in `.SIGN.*.<name>`).
public struct Keyring {
    public var keys: [String: (pem: Data, key: PublicKey)] = [:]
    public init() {}
    public init(paths: [String]) throws {
        for p in paths {
            guard let pem = FileManager.default.contents(atPath: p) else {
                throw RepositoryError("\(p): cannot read keyring key; check `contents.keyring` in the image config")
            }
            let key = try PublicKey(pem: pem, source: p)
            keys[URL(fileURLWithPath: p).lastPathComponent] = (pem, key)
        }
    }
    public var isEmpty: Bool { keys.isEmpty }
}

/// Minimal ustar reader for signature and control members (they carry no end-of-archive blocks,
/// which libarchive reports as truncation). Only what apk itself reads: names, sizes, PAX path.
enum TarFragment {
    static func entries(_ tar: Data) -> [(name: String, type: UInt8, data: Data)] {
        var out: [(String, UInt8, Data)] = []
        var off = 0
        var paxPath: String?
        let bytes = [UInt8](tar)
        func field(_ start: Int, _ len: Int) -> String {
            let slice = bytes[(off + start)..<(off + start + len)]
            let end = slice.firstIndex(of: 0) ?? slice.endIndex
            return String(decoding: bytes[(off + start)..<end], as: UTF8.self)
        }
        while off + 512 <= bytes.count {
            if bytes[off..<(off + 512)].allSatisfy({ $0 == 0 }) { break }
            var name = field(0, 100)
            let prefix = field(345, 155)
            if !prefix.isEmpty && field(257, 5) == "ustar" { name = prefix + "/" + name }
            let sizeText = field(124, 12).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
            let size = Int(sizeText, radix: 8) ?? 0
            let type = bytes[off + 156]
            let start = off + 512
            guard start + size <= bytes.count else { break }
            let body = Data(bytes[start..<(start + size)])
            off = start + (size + 511) / 512 * 512
            if type == UInt8(ascii: "x") {
                for rec in String(decoding: body, as: UTF8.self).split(separator: "\n") {
                    guard let sp = rec.firstIndex(of: " ") else { continue }
                    let kv = rec[rec.index(after: sp)...]
                    if kv.hasPrefix("path=") { paxPath = String(kv.dropFirst(5)) }
                }
                continue
            }
            if let p = paxPath { name = p; paxPath = nil }
            out.append((name, type, body))
        }
        return out
    }
}

enum Signatures {
    /// Verifies an apk-style signature member over `signed`. Returns the key name used.
    static func verify(signatureMember: Data, signed: Data, keyring: Keyring, what: String) throws -> String {
        let tar: Data
        do { tar = try Gzip.decompress(signatureMember) } catch {
            throw RepositoryError("\(what): unreadable signature member (\(error)); rebuild and re-sign it")
        }
        let sigs = TarFragment.entries(tar).filter { $0.name.hasPrefix(".SIGN.") }
        guard !sigs.isEmpty else {
            throw RepositoryError("\(what): not signed; kiln only installs from signed repositories (sign it with `kiln index --key`)")
        }
        var tried: [String] = []
        for s in sigs {
            let parts = s.name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: true)
            // ".SIGN.RSA256.key.rsa.pub" -> ["SIGN", "RSA256", "key.rsa.pub"]
            guard parts.count == 3 else { continue }
            let type = String(parts[1]), keyName = String(parts[2])
            tried.append(keyName)
            let digest: DigestAlgorithm
            switch type {
            case "RSA": digest = .sha1
            case "RSA256": digest = .sha256
            case "RSA512": digest = .sha512
            default: continue
            }
            guard let key = keyring.keys[keyName]?.key else { continue }
            if try key.verify(signature: [UInt8](s.data), data: signed, digest: digest) { return keyName }
            throw RepositoryError("\(what): BAD signature by key \(keyName); the file was changed after signing or signed by another key with that name")
        }
        throw RepositoryError("\(what): signed by untrusted key(s) \(tried.joined(separator: ", ")); add the public key to `contents.keyring` (keyring has: \(keyring.keys.keys.sorted().joined(separator: ", ")))")
    }
}

/// A loaded, verified repository.
public struct Repository {
    public var path: String
    public var records: [IndexRecord]

    /// Finds the APKINDEX for `path` (a repository root with `<arch>/`, or the arch folder itself).
    public static func indexPath(_ path: String, arch: String) -> String {
        let a = path + "/" + arch + "/APKINDEX.tar.gz"
        return FileManager.default.fileExists(atPath: a) ? a : path + "/APKINDEX.tar.gz"
    }

    /// Loads and verifies `<path>/<arch>/APKINDEX.tar.gz` against the keyring.
    public static func load(path: String, arch: String, keyring: Keyring, index: Int = 0) throws -> Repository {
        let file = indexPath(path, arch: arch)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RepositoryError("\(file): no APKINDEX.tar.gz here; build the repository with `kiln index` or fix the repository path")
        }
        let members: [Range<Int>]
        do { members = try Gzip.memberRanges(data) } catch {
            throw RepositoryError("\(file): not a gzip'd APKINDEX (\(error))")
        }
        guard members.count >= 2 else {
            throw RepositoryError("\(file): unsigned index; kiln refuses unsigned repositories (sign with `kiln index --key`)")
        }
        _ = try Signatures.verify(signatureMember: data.subdata(in: members[0]),
                                  signed: data.subdata(in: members[1].lowerBound..<data.count),
                                  keyring: keyring, what: file)
        let tar = try Gzip.decompress(data.subdata(in: members[1].lowerBound..<data.count))
        guard let idx = TarFragment.entries(tar).first(where: { $0.name == "APKINDEX" }) else {
            throw RepositoryError("\(file): no APKINDEX entry inside")
        }
        var recs = try IndexRecord.parseIndex(String(decoding: idx.data, as: UTF8.self), source: file + ":APKINDEX")
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        for i in recs.indices {
            recs[i].location = dir + "/" + recs[i].nameVersion + ".apk"
            recs[i].repositoryIndex = index
        }
        return Repository(path: path, records: recs)
    }
}

/// A package file read and verified: its control checksum, the .PKGINFO text and its data tar.
public struct VerifiedPackage {
    public var record: IndexRecord
    public var sha256: String            // of the whole .apk file (lock files pin this)
    public var entries: [(entry: TarEntry, data: Data)]

    /// Reads `record.location`, checks the signature over the control member, `C:` against the
    /// control member's SHA-1, `datahash` against the data member, and reads the data tar.
    public static func load(_ record: IndexRecord, keyring: Keyring) throws -> VerifiedPackage {
        let file = record.location
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RepositoryError("\(file): package listed in the index is missing; rebuild the repository index")
        }
        let members = try Gzip.memberRanges(data)
        guard members.count == 3 else {
            throw RepositoryError("\(file): expected signature, control and data gzip members, found \(members.count) (unsigned package?)")
        }
        let control = data.subdata(in: members[1])
        _ = try Signatures.verify(signatureMember: data.subdata(in: members[0]), signed: control,
                                  keyring: keyring, what: file)
        let q1 = "Q1" + (try Digest.hash(.sha1, control)).base64String
        if !record.checksum.isEmpty && q1 != record.checksum {
            throw RepositoryError("\(file): control checksum \(q1) differs from the index (\(record.checksum)); the index is stale, run `kiln index` again")
        }
        let pkginfo = TarFragment.entries(try Gzip.decompress(control)).first { $0.name == ".PKGINFO" }
        guard let pkginfo else { throw RepositoryError("\(file): no .PKGINFO in the control member") }
        var datahash: String?
        for line in String(decoding: pkginfo.data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("datahash = ") {
            datahash = String(line.dropFirst("datahash = ".count)).trimmingCharacters(in: .whitespaces)
        }
        let dataMember = data.subdata(in: members[2])
        guard let datahash else { throw RepositoryError("\(file): .PKGINFO has no datahash; rebuild the package") }
        let actual = try Digest.hash(.sha256, dataMember).hexString
        guard actual == datahash.lowercased() else {
            throw RepositoryError("\(file): data member SHA-256 \(actual) does not match datahash \(datahash); the package was tampered with")
        }
        let entries = try ArchiveReader.entries(data: dataMember)
        return VerifiedPackage(record: record, sha256: try Digest.hash(.sha256, data).hexString, entries: entries)
    }
}
