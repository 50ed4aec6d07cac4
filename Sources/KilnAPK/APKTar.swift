import Foundation

/// A tar parser with apk's semantics (apk-tools io_archive.c `apk_tar_parse`), used by the reader
/// to check packages the way apk itself will read them — independent of the tar writer:
/// magic must start with `ustar`; typeflags 0/7 file, 1 hardlink, 2 symlink, 3/4 device, 5 dir,
/// 6 fifo, `x` PAX, `g`/`K` ignored, `L` GNU long name; ustar prefix joined as `prefix/name`;
/// PAX keys `path`, `linkpath`, `SCHILY.xattr.*`, `APK-TOOLS.checksum.SHA1` (others kept in `pax`).
/// Parsing stops at the second all-zero header block, as apk does.
public struct APKTarEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, hardlink, symlink, characterDevice, blockDevice, directory, fifo }
    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: Int
    public var gid: Int
    public var uname: String
    public var gname: String
    public var mtime: Int64
    public var size: Int64
    public var linkTarget: String?
    public var pax: [String: String]
    public var xattrs: [String: Data]
    /// The contents (regular files only).
    public var data: Data
}

struct APKTarStream {
    /// Entries, the number of bytes consumed up to the end of the last entry, and whether two zero
    /// blocks (end of archive) were seen.
    struct Result { var entries: [APKTarEntry]; var consumed: Int; var sawEndOfArchive: Bool }

    /// Offsets (multiples of 512) of all-zero 512-byte blocks in `data`.
    static func zeroBlocks(_ data: Data) -> [Int] {
        var out: [Int] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var o = 0
            while o + 512 <= raw.count {
                var allZero = true
                for i in o..<(o + 512) where raw[i] != 0 { allZero = false; break }
                if allZero { out.append(o) }
                o += 512
            }
        }
        return out
    }

    static func octal<C: Collection>(_ b: C) -> Int64? where C.Element == UInt8 {
        // base-256 (GNU) for big values
        if let f = b.first, f & 0x80 != 0 {
            var v: Int64 = Int64(f & 0x7f)
            for c in b.dropFirst() { guard v < (Int64.max >> 8) else { return nil }; v = (v << 8) | Int64(c) }
            return v
        }
        var v: Int64 = 0
        var seen = false
        for c in b {
            if c == 0 || c == 0x20 { if seen { break } else { continue } }
            guard c >= 0x30 && c <= 0x37 else { return nil }
            seen = true
            guard v < (Int64.max >> 3) else { return nil }
            v = v * 8 + Int64(c - 0x30)
        }
        return v
    }

    static func str<C: Collection>(_ b: C) -> String where C.Element == UInt8 {
        String(decoding: b.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    static func parsePax(_ d: Data, file: String) throws -> [(String, Data)] {
        var out: [(String, Data)] = []
        let b = [UInt8](d)
        var i = 0
        while i < b.count {
            if b[i] == 0 { break }
            guard let sp = b[i...].firstIndex(of: 0x20) else { throw APKError.malformed(file: file, "bad PAX record") }
            guard let len = Int(String(decoding: b[i..<sp], as: UTF8.self)), len > 0, i + len <= b.count,
                  b[i + len - 1] == 0x0a else { throw APKError.malformed(file: file, "bad PAX record length") }
            let rec = b[(sp + 1)..<(i + len - 1)]
            guard let eq = rec.firstIndex(of: 0x3d) else { throw APKError.malformed(file: file, "PAX record without `=`") }
            out.append((String(decoding: rec[rec.startIndex..<eq], as: UTF8.self), Data(rec[(eq + 1)...])))
            i += len
        }
        return out
    }

    /// Parses `data` as a tar stream. `file` names the package in errors.
    static func parse(_ data: Data, file: String, member: String) throws -> Result {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in try parse(raw, file: file, member: member) }
    }

    static func parse(_ b: UnsafeRawBufferPointer, file: String, member: String) throws -> Result {
        var entries: [APKTarEntry] = []
        var o = 0
        var zeroCount = 0
        var pax: [(String, Data)] = []
        var gnuLongName: String?
        var consumed = 0
        while o + 512 <= b.count {
            let h = b[o..<(o + 512)]
            if h.allSatisfy({ $0 == 0 }) {
                zeroCount += 1
                o += 512
                if zeroCount >= 2 { return Result(entries: entries, consumed: consumed, sawEndOfArchive: true) }
                continue
            }
            zeroCount = 0
            let hs = o
            let magic = b[(o + 257)..<(o + 262)]
            guard magic.elementsEqual(Array("ustar".utf8)) else {
                throw APKError.malformed(file: file, "\(member): tar header at offset \(o) has no `ustar` magic")
            }
            guard let size = octal(h[(o + 124)..<(o + 136)]), size >= 0 else {
                throw APKError.malformed(file: file, "\(member): bad size field in tar header at offset \(o)")
            }
            let type = b[o + 156]
            let dataStart = o + 512
            let padded = Int((size + 511) / 512 * 512)
            guard size <= Int64(b.count), dataStart + Int(size) <= b.count else {
                throw APKError.malformed(file: file, "\(member): tar entry at offset \(o) is truncated")
            }
            let body = Data(b[dataStart..<(dataStart + Int(size))])
            o = min(b.count, dataStart + padded)
            switch type {
            case 0x78: // 'x'
                pax = try parsePax(body, file: file); continue
            case 0x67, 0x4b: // 'g', 'K'
                continue
            case 0x4c: // 'L'
                gnuLongName = str(body); continue
            default: break
            }
            var name = str(b[hs..<(hs + 100)])
            let prefix = str(b[(hs + 345)..<(hs + 500)])
            if !prefix.isEmpty { name = prefix + "/" + name }
            if let g = gnuLongName { name = g; gnuLongName = nil }
            var link = str(b[(hs + 157)..<(hs + 257)])
            var paxOut: [String: String] = [:]
            var xattrs: [String: Data] = [:]
            for (k, v) in pax {
                switch k {
                case "path": name = String(decoding: v, as: UTF8.self)
                case "linkpath": link = String(decoding: v, as: UTF8.self)
                default:
                    if k.hasPrefix("SCHILY.xattr.") { xattrs[String(k.dropFirst("SCHILY.xattr.".count))] = v }
                    else { paxOut[k] = String(decoding: v, as: UTF8.self) }
                }
            }
            pax = []
            let kind: APKTarEntry.Kind
            switch type {
            case 0x30, 0x37, 0: kind = .file
            case 0x31: kind = .hardlink
            case 0x32: kind = .symlink
            case 0x33: kind = .characterDevice
            case 0x34: kind = .blockDevice
            case 0x35: kind = .directory
            case 0x36: kind = .fifo
            default: throw APKError.malformed(file: file, "\(member): \(name): unsupported tar typeflag \(type)")
            }
            if name.hasSuffix("/") && kind == .directory { name.removeLast() }
            let e = APKTarEntry(
                path: name, kind: kind,
                mode: UInt32(truncatingIfNeeded: octal(h[(hs + 100)..<(hs + 108)]) ?? 0) & 0o7777,
                uid: Int(octal(h[(hs + 108)..<(hs + 116)]) ?? 0), gid: Int(octal(h[(hs + 116)..<(hs + 124)]) ?? 0),
                uname: str(h[(hs + 265)..<(hs + 297)]), gname: str(h[(hs + 297)..<(hs + 329)]),
                mtime: octal(h[(hs + 136)..<(hs + 148)]) ?? 0, size: size,
                linkTarget: (kind == .symlink || kind == .hardlink) ? link : nil,
                pax: paxOut, xattrs: xattrs, data: kind == .file ? body : Data())
            entries.append(e)
            consumed = o
        }
        if o != b.count {
            throw APKError.malformed(file: file, "\(member): tar stream length \(b.count) is not a multiple of 512")
        }
        return Result(entries: entries, consumed: consumed, sawEndOfArchive: false)
    }
}
