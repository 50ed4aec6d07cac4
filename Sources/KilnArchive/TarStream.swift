import Foundation
import KilnCore

/// One entry of a raw tar stream, as `TarStream` reads it (path and link target already taken
/// from PAX `path`/`linkpath` or a GNU long name when present).
public struct TarStreamEntry: Sendable, Equatable {
    /// The entry type, from the typeflag.
    public enum Kind: Sendable, Equatable {
        case file, hardlink, symlink, characterDevice, blockDevice, directory, fifo
        /// A typeflag the `.posix` dialect passes through (the `.apk` dialect refuses them).
        case other(UInt8)
    }
    /// The path as stored (no `./` or safety processing; a directory's trailing `/` removed).
    public var path: String
    /// The entry type.
    public var kind: Kind
    /// Permission bits (`& 0o7777`).
    public var mode: UInt32
    /// Numeric owner.
    public var uid: Int
    /// Numeric group.
    public var gid: Int
    /// Owner name.
    public var uname: String
    /// Group name.
    public var gname: String
    /// Modification time (seconds since the epoch).
    public var mtime: Int64
    /// The data size of the entry.
    public var size: Int64
    /// The link target of symlinks and hardlinks.
    public var linkTarget: String?
    /// PAX records other than `path`, `linkpath` and `SCHILY.xattr.*`.
    public var pax: [String: String]
    /// Extended attributes from `SCHILY.xattr.*` records.
    public var xattrs: [String: Data]
    /// The contents (regular files only, and only when the options keep file data).
    public var data: Data
}

/// The one raw tar-header walker in kiln (libarchive's `ArchiveReader` does extraction and entry
/// listing; this reads what libarchive cannot: members without end-of-archive blocks, and PAX
/// records libarchive drops). Every size and offset goes through `ByteReader`'s checked arithmetic,
/// so crafted headers (base-256 sizes near `Int64.max`, a size field of `-1`, PAX `size=` near
/// `Int.max`) are errors, never traps.
public enum TarStream {
    /// Which reader's rules to follow.
    public enum Dialect: Sendable {
        /// apk-tools `apk_tar_parse`: magic must start with `ustar`; typeflags 0/7 file, 1 hardlink,
        /// 2 symlink, 3/4 device, 5 dir, 6 fifo, `x` PAX, `g`/`K` ignored, `L` long name (others
        /// refused); every header's size field counts; PAX `size` is ignored; the stream ends at the
        /// second all-zero block, and otherwise must be a whole number of 512-byte blocks.
        case apk
        /// POSIX/GNU readers (what libarchive reads): no magic needed (the ustar prefix is used only
        /// with `ustar\0` magic); sizes of symlinks, devices, directories and fifos are ignored; PAX
        /// `size` overrides the header; the stream ends at the first all-zero block.
        case posix
    }

    /// Entries, the number of bytes up to the end of the last entry, and whether the end-of-archive
    /// blocks were seen.
    public struct Result: Sendable {
        /// The entries in archive order.
        public var entries: [TarStreamEntry]
        /// Bytes consumed up to the end of the last entry.
        public var consumed: Int
        /// Whether the dialect's end-of-archive marker was seen.
        public var sawEndOfArchive: Bool
    }

    /// Offsets (multiples of 512) of all-zero 512-byte blocks in `data`.
    public static func zeroBlocks(_ data: Data) -> [Int] {
        var out: [Int] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var o = 0
            while o + 512 <= raw.count {
                if raw[o..<(o + 512)].allSatisfy({ $0 == 0 }) { out.append(o) }
                o += 512
            }
        }
        return out
    }

    /// A numeric header field: octal digits (leading spaces/NULs skipped, ended by NUL or space),
    /// or GNU base-256 when the first byte's high bit is set. `nil` when malformed or beyond
    /// `Int64.max` (a negative base-256 value is beyond it too).
    public static func numeric<C: Collection>(_ field: C) -> Int64? where C.Element == UInt8 {
        if let f = field.first, f & 0x80 != 0 {
            var v = Int64(f & 0x7f)
            for c in field.dropFirst() { guard v <= (Int64.max >> 8) else { return nil }; v = (v << 8) | Int64(c) }
            return v
        }
        var v: Int64 = 0
        var seen = false
        for c in field {
            if c == 0 || c == 0x20 { if seen { break } else { continue } }
            guard c >= 0x30 && c <= 0x37, v <= (Int64.max >> 3) else { return nil }
            seen = true
            v = v * 8 + Int64(c - 0x30)
        }
        return v
    }

    /// A NUL-terminated header string field.
    public static func string<C: Collection>(_ field: C) -> String where C.Element == UInt8 {
        String(decoding: field.prefix(while: { $0 != 0 }), as: UTF8.self)
    }

    /// Parses `data` as a tar stream. `context` names the archive (and member) in errors.
    public static func parse(_ data: Data, context: String, dialect: Dialect = .apk, keepFileData: Bool = true) throws -> Result {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var walker = Walker(b: raw, context: context, dialect: dialect, keepFileData: keepFileData)
            return try walker.run()
        }
    }
}

/// The state of one `TarStream.parse` run.
private struct Walker {
    let b: UnsafeRawBufferPointer
    let context: String
    let dialect: TarStream.Dialect
    let keepFileData: Bool
    var entries: [TarStreamEntry] = []
    var pax: [(String, [UInt8])] = []
    var longName: String?
    var consumed = 0

    init(b: UnsafeRawBufferPointer, context: String, dialect: TarStream.Dialect, keepFileData: Bool) {
        self.b = b; self.context = context; self.dialect = dialect; self.keepFileData = keepFileData
    }

    func fail(_ reason: String) -> ArchiveError { .corrupt(context: context, reason: reason) }

    mutating func run() throws -> TarStream.Result {
        var o = 0
        var zeroCount = 0
        while o + 512 <= b.count {
            let h = b[o..<(o + 512)]
            if h.allSatisfy({ $0 == 0 }) {
                zeroCount += 1
                o += 512
                if dialect == .posix || zeroCount >= 2 { return .init(entries: entries, consumed: consumed, sawEndOfArchive: true) }
                continue
            }
            zeroCount = 0
            o = try entry(at: o)
        }
        if dialect == .apk, o != b.count {
            throw fail("tar stream length \(b.count) is not a multiple of 512")
        }
        return .init(entries: entries, consumed: consumed, sawEndOfArchive: false)
    }

    /// The data size of the header at `o`, checked: a malformed or negative field, or one whose
    /// data would reach past the end of the stream, is an error.
    func size(at o: Int, type: UInt8) throws -> Int {
        guard let field = TarStream.numeric(b[(o + 124)..<(o + 136)]) else {
            throw fail("bad size field in tar header at offset \(o)")
        }
        var size = field
        if dialect == .posix {
            if (0x32...0x36).contains(type) { size = 0 }
            if type != 0x78, let s = pax.last(where: { $0.0 == "size" }) {
                guard let v = Int64(String(decoding: s.1, as: UTF8.self)), v >= 0 else {
                    throw fail("bad PAX size record before tar header at offset \(o)")
                }
                size = v
            }
        }
        guard let n = Int(exactly: size), ByteReader.range(offset: o + 512, length: n, within: b.count) != nil else {
            throw fail("tar entry at offset \(o) is truncated (size \(size), \(b.count - o - 512) bytes left)")
        }
        return n
    }

    /// Reads the header at `o` (and its data); returns the offset of the next header.
    mutating func entry(at o: Int) throws -> Int {
        let magic = b[(o + 257)..<(o + 262)]
        let isUstar = magic.elementsEqual("ustar".utf8)
        if dialect == .apk, !isUstar { throw fail("tar header at offset \(o) has no `ustar` magic") }
        let type = b[o + 156]
        let size = try size(at: o, type: type)
        let dataStart = o + 512
        // `size` fits within the stream, so rounding it up cannot overflow.
        let next = min(b.count, dataStart + (ByteReader.roundUp(size, toMultipleOf: 512) ?? size))
        let body = b[dataStart..<(dataStart + size)]
        switch type {
        case 0x78: // 'x'
            do { pax = try PaxHeader.parseRecords(ArraySlice(body)).map { ($0.0, PaxHeader.value(of: $0.1)) } } catch let ArchiveError.corrupt(_, reason) {
                throw fail("\(reason) in the PAX header at offset \(o)")
            }
            return next
        case 0x67, 0x4b: return next // 'g', 'K'
        case 0x4c: longName = TarStream.string(body); return next // 'L'
        default: break
        }
        var e = try header(at: o, type: type, size: size)
        if e.kind == .file && keepFileData { e.data = Data(body) }
        entries.append(e)
        consumed = next
        return next
    }

    /// The entry described by the header at `o` plus the pending PAX records / long name.
    mutating func header(at o: Int, type: UInt8, size: Int) throws -> TarStreamEntry {
        let h = b[o..<(o + 512)]
        var name = TarStream.string(h[o..<(o + 100)])
        let usesPrefix = dialect == .apk || b[(o + 257)..<(o + 263)].elementsEqual("ustar\0".utf8)
        let prefix = usesPrefix ? TarStream.string(h[(o + 345)..<(o + 500)]) : ""
        if !prefix.isEmpty { name = prefix + "/" + name }
        if let g = longName { name = g; longName = nil }
        var link = TarStream.string(h[(o + 157)..<(o + 257)])
        var other: [String: String] = [:]
        var xattrs: [String: Data] = [:]
        for (k, v) in pax {
            switch k {
            case "path": name = String(decoding: v, as: UTF8.self)
            case "linkpath": link = String(decoding: v, as: UTF8.self)
            default:
                if k.hasPrefix("SCHILY.xattr.") { xattrs[String(k.dropFirst("SCHILY.xattr.".count))] = Data(v) }
                else { other[k] = String(decoding: v, as: UTF8.self) }
            }
        }
        pax = []
        let kind = try kind(type, name: name)
        if name.hasSuffix("/") && kind == .directory { name.removeLast() }
        return TarStreamEntry(
            path: name, kind: kind,
            mode: UInt32(truncatingIfNeeded: TarStream.numeric(h[(o + 100)..<(o + 108)]) ?? 0) & 0o7777,
            uid: Int(TarStream.numeric(h[(o + 108)..<(o + 116)]) ?? 0),
            gid: Int(TarStream.numeric(h[(o + 116)..<(o + 124)]) ?? 0),
            uname: TarStream.string(h[(o + 265)..<(o + 297)]), gname: TarStream.string(h[(o + 297)..<(o + 329)]),
            mtime: TarStream.numeric(h[(o + 136)..<(o + 148)]) ?? 0, size: Int64(size),
            linkTarget: (kind == .symlink || kind == .hardlink) ? link : nil,
            pax: other, xattrs: xattrs, data: Data())
    }

    func kind(_ type: UInt8, name: String) throws -> TarStreamEntry.Kind {
        switch type {
        case 0x30, 0x37, 0: return .file
        case 0x31: return .hardlink
        case 0x32: return .symlink
        case 0x33: return .characterDevice
        case 0x34: return .blockDevice
        case 0x35: return .directory
        case 0x36: return .fifo
        default:
            guard dialect == .posix else { throw fail("\(name): unsupported tar typeflag \(type)") }
            return .other(type)
        }
    }
}
