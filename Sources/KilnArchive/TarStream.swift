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

/// The one raw tar-header walker in kiln (`TarStreamScanner` below; `parse` feeds it a whole buffer) (libarchive's `ArchiveReader` does extraction and entry
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

    /// Parses `data` as a tar stream (all of it fed to one `TarStreamScanner`). `context` names the
    /// archive (and member) in errors.
    public static func parse(_ data: Data, context: String, dialect: Dialect = .apk, keepFileData: Bool = true) throws -> Result {
        let scanner = TarStreamScanner(context: context, dialect: dialect, keepFileData: keepFileData)
        try data.withUnsafeBytes { try scanner.feed($0) }
        return try scanner.finish()
    }
}

/// What a `TarStreamScanner` reports while it reads.
public enum TarStreamEvent {
    /// An entry's header was read (its `data` is empty; contents follow as `.data`).
    case entry(TarStreamEntry)
    /// The next piece of the current regular file's contents (valid only during the call).
    case data(UnsafeRawBufferPointer)
    /// The current entry's contents are complete.
    case end
}

/// The tar walker, push-style: bytes are fed in pieces of any size and only one 512-byte header
/// (and a PAX or long-name record, at most `maxMetadataBytes`) is held at a time, so a data member
/// of any size is read in bounded memory; file contents go to `onEvent` as they pass (and into
/// `entry.data` only with `keepFileData`). Sizes are checked with overflow-checked arithmetic; an
/// entry cut short by the end of the stream is an error at `finish()`.
public final class TarStreamScanner {
    /// The most bytes a PAX extended header or GNU long name may have.
    public static let maxMetadataBytes = 16 << 20

    fileprivate enum State { case header, meta(type: UInt8), skip, body(isFile: Bool), pad(real: Bool), done }

    let context: String
    let dialect: TarStream.Dialect
    let keepFileData: Bool
    private let onEvent: ((TarStreamEvent) throws -> Void)?
    /// The entries read so far, in archive order.
    public private(set) var entries: [TarStreamEntry] = []
    private var state = State.header
    private var left = 0, padLeft = 0
    private var header = [UInt8](repeating: 0, count: 512)
    private var headerFill = 0
    private var meta: [UInt8] = []
    private var pax: [(String, [UInt8])] = []
    private var longName: String?
    private var zeroCount = 0
    private var pos = 0, consumed = 0
    private var entryOffset = 0, entrySize = 0
    private var sawEndOfArchive = false

    /// A scanner for one stream; `context` names it in errors.
    public init(context: String, dialect: TarStream.Dialect = .apk, keepFileData: Bool = true,
                onEvent: ((TarStreamEvent) throws -> Void)? = nil) {
        self.context = context; self.dialect = dialect; self.keepFileData = keepFileData; self.onEvent = onEvent
    }

    func fail(_ reason: String) -> ArchiveError { .corrupt(context: context, reason: reason) }

    /// Reads the next bytes of the stream (bytes after the end-of-archive marker are ignored).
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        var i = 0
        while i < bytes.count {
            let rest = bytes.count - i
            switch state {
            case .done:
                pos += rest
                return
            case .header:
                let n = min(512 - headerFill, rest)
                header.withUnsafeMutableBytes { ($0.baseAddress! + headerFill).copyMemory(from: bytes.baseAddress! + i, byteCount: n) }
                headerFill += n; i += n; pos += n
                if headerFill == 512 { headerFill = 0; try headerBlock(at: pos - 512) }
            case .meta, .skip, .body, .pad:
                let n = min(state.isPad ? padLeft : left, rest)
                let piece = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])
                switch state {
                case .meta: meta.append(contentsOf: piece)
                case .body(true):
                    if keepFileData { entries[entries.count - 1].data.append(contentsOf: piece) }
                    try onEvent?(.data(piece))
                default: break
                }
                if state.isPad { padLeft -= n } else { left -= n }
                i += n; pos += n
            }
            try settle()
        }
    }

    /// Moves past states that have no bytes left.
    private func settle() throws {
        while true {
            switch state {
            case .meta(let type) where left == 0: try metaDone(type); state = .pad(real: false)
            case .skip where left == 0: state = .pad(real: false)
            case .body where left == 0: try onEvent?(.end); state = .pad(real: true)
            case .pad(let real) where padLeft == 0:
                if real { consumed = pos }
                state = .header
            default: return
            }
        }
    }

    /// The entries, once the stream has ended; an entry cut short is an error.
    public func finish() throws -> TarStream.Result {
        switch state {
        case .header where headerFill > 0 && dialect == .apk:
            throw fail("tar stream length \(pos) is not a multiple of 512")
        case .meta, .skip, .body:
            throw fail("tar entry at offset \(entryOffset) is truncated (size \(entrySize), \(pos - entryOffset - 512) bytes left)")
        case .pad(let real) where real: consumed = pos
        default: break
        }
        return .init(entries: entries, consumed: consumed, sawEndOfArchive: sawEndOfArchive)
    }

    /// One complete 512-byte block where a header is expected.
    private func headerBlock(at o: Int) throws {
        if header.allSatisfy({ $0 == 0 }) {
            zeroCount += 1
            if dialect == .posix || zeroCount >= 2 { sawEndOfArchive = true; state = .done }
            return
        }
        zeroCount = 0
        if dialect == .apk, !header[257..<262].elementsEqual("ustar".utf8) { throw fail("tar header at offset \(o) has no `ustar` magic") }
        let type = header[156]
        let size = try size(at: o, type: type)
        entryOffset = o; entrySize = size
        left = size
        padLeft = (ByteReader.roundUp(size, toMultipleOf: 512) ?? size) - size
        switch type {
        case 0x78, 0x4c: // 'x', 'L'
            guard size <= TarStreamScanner.maxMetadataBytes else {
                throw fail("the \(type == 0x78 ? "PAX" : "long-name") header at offset \(o) is \(size) bytes (kiln reads at most \(TarStreamScanner.maxMetadataBytes))")
            }
            meta = []
            state = .meta(type: type)
        case 0x67, 0x4b: state = .skip // 'g', 'K'
        default:
            let e = try entry(at: o, type: type, size: size)
            entries.append(e)
            try onEvent?(.entry(e))
            state = .body(isFile: e.kind == .file)
        }
        try settle()
    }

    /// A PAX header or long name is complete.
    private func metaDone(_ type: UInt8) throws {
        if type == 0x4c { longName = TarStream.string(meta); return }
        do { pax = try PaxHeader.parseRecords(ArraySlice(meta)).map { ($0.0, PaxHeader.value(of: $0.1)) } } catch let ArchiveError.corrupt(_, reason) {
            throw fail("\(reason) in the PAX header at offset \(entryOffset)")
        }
    }

    /// The data size of the header at `o`, checked: a malformed or negative field, or one whose data
    /// would end beyond `Int.max`, is an error.
    private func size(at o: Int, type: UInt8) throws -> Int {
        guard let field = TarStream.numeric(header[124..<136]) else { throw fail("bad size field in tar header at offset \(o)") }
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
        guard let n = Int(exactly: size), ByteReader.range(offset: o + 512, length: n, within: Int.max - 512) != nil else {
            throw fail("tar entry at offset \(o) is truncated (size \(size))")
        }
        return n
    }

    /// The entry described by the header at `o` plus the pending PAX records / long name.
    private func entry(at o: Int, type: UInt8, size: Int) throws -> TarStreamEntry {
        let h = header
        var name = TarStream.string(h[0..<100])
        let usesPrefix = dialect == .apk || h[257..<263].elementsEqual("ustar\0".utf8)
        let prefix = usesPrefix ? TarStream.string(h[345..<500]) : ""
        if !prefix.isEmpty { name = prefix + "/" + name }
        if let g = longName { name = g; longName = nil }
        var link = TarStream.string(h[157..<257])
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
            mode: UInt32(truncatingIfNeeded: TarStream.numeric(h[100..<108]) ?? 0) & 0o7777,
            uid: Int(TarStream.numeric(h[108..<116]) ?? 0),
            gid: Int(TarStream.numeric(h[116..<124]) ?? 0),
            uname: TarStream.string(h[265..<297]), gname: TarStream.string(h[297..<329]),
            mtime: TarStream.numeric(h[136..<148]) ?? 0, size: Int64(size),
            linkTarget: (kind == .symlink || kind == .hardlink) ? link : nil,
            pax: other, xattrs: xattrs, data: Data())
    }

    private func kind(_ type: UInt8, name: String) throws -> TarStreamEntry.Kind {
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

fileprivate extension TarStreamScanner.State {
    var isPad: Bool { if case .pad = self { return true } else { return false } }
}
