import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// One APKINDEX record (apk-format.md §1.7). Letters: C P V A S I T U L o m t c k D p i.
public struct APKIndexRecord: Sendable, Equatable, Codable {
    /// `C:` `Q1` + base64(SHA-1(control member)).
    public var checksum: String = ""
    public var name: String = ""             // P
    public var version: String = ""          // V
    public var arch: String = ""             // A
    public var size: Int64 = 0               // S: .apk file size
    public var installedSize: Int64 = 0      // I
    public var description: String = ""      // T
    public var url: String = ""              // U
    public var license: String = ""          // L
    public var origin: String?               // o
    public var maintainer: String?           // m
    public var buildTime: Int64?             // t
    public var commit: String?               // c
    public var providerPriority: Int?        // k
    public var depends: [String] = []        // D
    public var provides: [String] = []       // p
    public var installIf: [String] = []      // i
    /// Other `X:value` lines, kept in order as [letter, value].
    public var other: [[String]] = []

    public init() {}

    /// The record for a package file (`S:` is the file size).
    public init(package p: APKPackage) {
        checksum = p.checksum
        name = p.info.pkgname; version = p.info.pkgver; arch = p.info.arch
        size = Int64(p.fileSize); installedSize = p.info.size
        description = p.info.pkgdesc; url = p.info.url; license = p.info.license
        origin = p.info.origin; maintainer = p.info.maintainer; buildTime = p.info.builddate
        commit = p.info.commit; providerPriority = p.info.providerPriority
        depends = p.info.depends; provides = p.info.provides; installIf = p.info.installIf
    }

    /// `<name>-<version>.apk`, the file name apk fetches.
    public var fileName: String { "\(name)-\(version).apk" }

    /// The record's lines in apk's order (package.c `apk_pkg_write_index_header`), each ending in `\n`.
    public func render() -> String {
        var s = ""
        func put(_ k: Character, _ v: String) { s += "\(k):\(v)\n" }
        put("C", checksum); put("P", name); put("V", version); put("A", arch)
        put("S", String(size)); put("I", String(installedSize))
        put("T", description); put("U", url); put("L", license)
        if let origin, !origin.isEmpty { put("o", origin) }
        if let maintainer, !maintainer.isEmpty { put("m", maintainer) }
        if let buildTime { put("t", String(buildTime)) }
        if let commit, !commit.isEmpty { put("c", commit) }
        if let providerPriority { put("k", String(providerPriority)) }
        if !depends.isEmpty { put("D", depends.joined(separator: " ")) }
        if !provides.isEmpty { put("p", provides.joined(separator: " ")) }
        if !installIf.isEmpty { put("i", installIf.joined(separator: " ")) }
        for kv in other where kv.count == 2 && kv[0].count == 1 { put(Character(kv[0]), kv[1]) }
        return s
    }
}

/// A parsed (and, when read from a file, verified) APKINDEX.
public struct APKIndex: Sendable {
    public var description: String?
    public var records: [APKIndexRecord]
    public var signatures: [APKPackage.Signature] = []
    public var trustedKey: String?

    public init(description: String?, records: [APKIndexRecord]) {
        self.description = description; self.records = records
    }

    /// Sorted as apk 2.14 writes them: by name, then version, then arch (byte order).
    public static func sorted(_ records: [APKIndexRecord]) -> [APKIndexRecord] {
        records.sorted { a, b in
            if a.name != b.name { return TarEntry.pathPrecedes(a.name, b.name) }
            if a.version != b.version { return TarEntry.pathPrecedes(a.version, b.version) }
            return TarEntry.pathPrecedes(a.arch, b.arch)
        }
    }

    /// The APKINDEX text: records separated by a blank line.
    public static func renderText(_ records: [APKIndexRecord]) -> String {
        records.map { $0.render() + "\n" }.joined()
    }

    /// Parses APKINDEX text. Unknown lower-case letters are kept in `other`; unknown upper-case
    /// letters are an error (apk 2.x would mark such a package uninstallable).
    public static func parseText(_ text: String, file: String) throws -> [APKIndexRecord] {
        try parseRecords(text, file: file, installed: false)
    }

    /// Parses apk's installed database (`lib/apk/db/installed`): the same package letters as an
    /// APKINDEX, plus per-file lines (`F: R: M: a: Z:` …) which are skipped. Records need `P:` and
    /// `V:`; the index checks on `C:`/`S:` are not applied (other tools write this file too).
    public static func parseInstalledDatabase(_ text: String, file: String) throws -> [APKIndexRecord] {
        try parseRecords(text, file: file, installed: true)
    }

    static func parseRecords(_ text: String, file: String, installed: Bool) throws -> [APKIndexRecord] {
        var out: [APKIndexRecord] = []
        var cur: APKIndexRecord?
        var lineNo = 0
        func finish() throws {
            guard let r = cur else { return }
            guard !r.name.isEmpty, !r.version.isEmpty, installed || !r.checksum.isEmpty else {
                throw APKError.malformed(file: file, "APKINDEX record ending at line \(lineNo) lacks \(installed ? "" : "C:, ")P: or V:")
            }
            if !installed { try validate(r, file: file, line: lineNo) }
            out.append(r); cur = nil
        }
        // Byte-wise: field letters are ASCII, and a line is what lies between two `\n` bytes (a String
        // split would treat "\r\n" as one character and never split there).
        let colon = UInt8(ascii: ":"), cr = UInt8(ascii: "\r")
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            let raw = installed && line.last == cr ? line.dropLast() : line
            if raw.isEmpty { try finish(); continue }
            guard raw.count >= 2, raw.first! < 0x80, raw[raw.index(after: raw.startIndex)] == colon else {
                throw APKError.malformed(file: file, "APKINDEX line \(lineNo): expected `X:value`")
            }
            let k = Character(Unicode.Scalar(raw.first!))
            let v = String(Substring(raw.dropFirst(2)))
            if installed && "FRMaZrqs".contains(k) { continue }
            if cur == nil { cur = APKIndexRecord() }
            try apply(k, v, to: &cur!, file: file, line: lineNo, installed: installed)
        }
        try finish()
        return out
    }

    /// Sets the field of letter `k` (in place: a record is not copied per line).
    private static func apply(_ k: Character, _ v: String, to r: inout APKIndexRecord, file: String, line: Int, installed: Bool) throws {
        func int64() throws -> Int64 {
            guard let x = Int64(v) else { throw APKError.malformed(file: file, "APKINDEX line \(line): \(k): must be an integer") }
            return x
        }
        func words() -> [String] { v.utf8.split(separator: UInt8(ascii: " ")).map { String(Substring($0)) } }
        switch k {
        case "C": r.checksum = v
        case "P": r.name = v
        case "V": r.version = v
        case "A": r.arch = v
        case "S": r.size = try int64()
        case "I": r.installedSize = try int64()
        case "T": r.description = v
        case "U": r.url = v
        case "L": r.license = v
        case "o": r.origin = v
        case "m": r.maintainer = v
        case "t": r.buildTime = try int64()
        case "c": r.commit = v
        case "k": r.providerPriority = Int(try int64())
        case "D": r.depends += words()
        case "p": r.provides += words()
        case "i": r.installIf += words()
        default:
            if k.isUppercase && !installed {
                throw APKError.malformed(file: file, "APKINDEX line \(line): unknown upper-case field \(k): (apk 2.x would refuse the package)")
            }
            r.other.append([String(k), v])
        }
    }

    /// Refuses a record apk could not use: a `P:` that is not a package name, a `V:` that is not an
    /// apk version, a `C:` that is not `Q1` + base64(20-byte SHA-1), a negative `S:` or `I:`.
    static func validate(_ r: APKIndexRecord, file: String, line: Int) throws {
        func bad(_ m: String) -> APKError { .malformed(file: file, "APKINDEX record ending at line \(line): \(m)") }
        guard APKName.isValid(r.name) else { throw bad("P:\(r.name) is not a valid package name") }
        guard APKVersion.isValid(r.version) else { throw bad("V:\(r.version) (package \(r.name)) is not an apk version") }
        guard r.checksum.hasPrefix("Q1"), let sha1 = Data(base64Encoded: String(r.checksum.dropFirst(2))), sha1.count == 20 else {
            throw bad("C:\(r.checksum) (package \(r.name)) is not Q1 + base64 of a SHA-1")
        }
        guard r.size >= 0, r.installedSize >= 0 else { throw bad("S:/I: of \(r.name) must not be negative") }
    }

    /// Builds the unsigned APKINDEX.tar.gz: one gzip member, tar with DESCRIPTION (if any) then
    /// APKINDEX then the end-of-archive blocks, mtime `epoch`, owner root.
    public static func unsignedArchive(records: [APKIndexRecord], description: String?, epoch: Int64) throws -> Data {
        var entries: [TarEntry] = []
        func file(_ name: String, _ content: Data) -> TarEntry {
            var e = TarEntry(path: name, kind: .file, mode: 0o644, content: .data(content), size: Int64(content.count))
            e.mtime = epoch
            return e
        }
        if let description { entries.append(file("DESCRIPTION", Data(description.utf8))) }
        entries.append(file("APKINDEX", Data(renderText(sorted(records)).utf8)))
        var opts = TarWriterOptions(epoch: epoch)
        opts.sortEntries = false
        let tar = try APKWriter.tar(entries, options: opts)
        return try Gzip.compress(tar, level: 9)
    }

    /// The signed index bytes: signature member || unsigned index.
    public static func signedArchive(records: [APKIndexRecord], description: String?, epoch: Int64, signer: APKSigner) throws -> Data {
        let unsigned = try unsignedArchive(records: records, description: description, epoch: epoch)
        return try APKWriter.signatureMember(signing: unsigned, signer: signer, epoch: epoch) + unsigned
    }

    public static func read(path: String, options: APKVerifyOptions) throws -> APKIndex {
        guard let data = FileManager.default.contents(atPath: path) else { throw APKError.io("cannot read \(path)") }
        return try read(data: data, file: path, options: options)
    }

    /// Reads and verifies a (signed) APKINDEX.tar.gz: the signature covers every byte after the
    /// signature member.
    public static func read(data: Data, file: String, options: APKVerifyOptions) throws -> APKIndex {
        let ranges = try APKReader.members(data, file: file, limit: options.maxInflatedMemberBytes)
        guard !ranges.isEmpty else { throw APKError.malformed(file: file, "empty file") }
        let first = try APKReader.gunzip(data.subdata(in: ranges[0]), file: file, member: "first", limit: options.maxInflatedMemberBytes)
        var sigs: [APKPackage.Signature] = []
        var start = 0
        if first.count >= 512, APKTarStream.str(first[0..<100]).hasPrefix(".SIGN.") {
            sigs = try APKReader.parseSignatureMember(first, file: file)
            start = 1
        }
        guard ranges.count - start == 1 else {
            throw APKError.malformed(file: file, "the unsigned index must be exactly one gzip member, found \(ranges.count - start)")
        }
        let unsigned = data.subdata(in: ranges[start].lowerBound..<data.count)
        let trusted: String?
        if sigs.isEmpty {
            guard options.allowUntrusted else { throw APKError.untrusted(file: file, signatures: []) }
            trusted = nil
        } else {
            trusted = try APKReader.verifySignatures(sigs, signed: unsigned, file: file, options: options)
        }
        let tar = start == 0 ? first : try APKReader.gunzip(unsigned, file: file, member: "index", limit: options.maxInflatedMemberBytes)
        let parsed = try APKTarStream.parse(tar, file: file, member: "index")
        guard parsed.sawEndOfArchive else { throw APKError.malformed(file: file, "index tar has no end-of-archive blocks") }
        var desc: String?
        var text: String?
        for e in parsed.entries {
            switch e.path {
            case "DESCRIPTION": desc = String(decoding: e.data, as: UTF8.self)
            case "APKINDEX": text = String(decoding: e.data, as: UTF8.self)
            default: break
            }
        }
        guard let text else { throw APKError.malformed(file: file, "no APKINDEX entry in the index") }
        var idx = APKIndex(description: desc, records: try parseText(text, file: file))
        idx.signatures = sigs
        idx.trustedKey = trusted
        return idx
    }
}
