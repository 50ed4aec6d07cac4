import CArchive
import Foundation

/// A libarchive read handle over tar (plain, gzip incl. multi-member, xz, bzip2, zstd).
final class ReadHandle {
    let a: OpaquePointer
    let name: String
    private var memory: UnsafeMutableRawBufferPointer?
    private var owned: InflatedBuffer?

    init(data: Data, name: String = "<memory>") throws {
        self.name = name
        a = try ReadHandle.make(name)
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
        data.copyBytes(to: m)
        memory = m
        try check(archive_read_open_memory(a, m.baseAddress, data.count), "cannot open archive")
    }

    /// Over inflated bytes the handle keeps alive (no copy).
    init(buffer: InflatedBuffer, name: String) throws {
        self.name = name
        a = try ReadHandle.make(name)
        owned = buffer
        try check(archive_read_open_memory(a, buffer.base, buffer.count), "cannot open archive")
    }

    init(path: String) throws {
        name = path
        a = try ReadHandle.make(path)
        try check(archive_read_open_filename(a, path, 1 << 16), "cannot open archive")
    }

    private static func make(_ name: String) throws -> OpaquePointer {
        guard let a = archive_read_new() else { throw ArchiveError.libarchive(context: name, message: "out of memory") }
        archive_read_support_filter_gzip(a)
        archive_read_support_filter_xz(a)
        archive_read_support_filter_bzip2(a)
        archive_read_support_filter_zstd(a)
        archive_read_support_format_tar(a)
        return a
    }

    deinit {
        archive_read_free(a)
        memory?.deallocate()
    }

    func check(_ r: Int32, _ what: String) throws {
        if r != ARCHIVE_OK && r != ARCHIVE_WARN {
            let msg = archive_error_string(a).map { String(cString: $0) } ?? "error \(r)"
            throw ArchiveError.libarchive(context: "\(name): \(what)", message: msg)
        }
    }

    /// The next header, or nil at the end.
    func next() throws -> RawEntry? {
        try UTF8Locale.with { try nextHeader() }
    }

    private func nextHeader() throws -> RawEntry? {
        var e: OpaquePointer?
        let r = archive_read_next_header(a, &e)
        if r == ARCHIVE_EOF { return nil }
        try check(r, "cannot read next entry")
        guard let e else { return nil }
        return RawEntry(e)
    }

    /// Bytes the format layer has consumed so far: the inflated size for a compressed archive.
    var inflatedBytes: Int64 { archive_filter_bytes(a, 0) }

    /// Streams the current entry's data.
    func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        var buf = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buf.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress, $0.count) }
            if n == 0 { return }
            if n < 0 { try check(Int32(n), "cannot read entry data") }
            try buf.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}

/// Header fields of one entry as libarchive reports them (path not yet validated).
struct RawEntry {
    var path: String
    var type: UInt32          // S_IFMT bits
    var perm: UInt32
    var uid: Int, gid: Int
    var uname: String?, gname: String?
    var mtime: Int64
    var size: Int64
    var symlink: String?
    var hardlink: String?
    var rdev: dev_t
    var xattrs: [String: Data] = [:]

    init(_ e: OpaquePointer) {
        func str(_ utf8: UnsafePointer<CChar>?, _ raw: UnsafePointer<CChar>?) -> String? {
            (utf8 ?? raw).map { String(cString: $0) }
        }
        path = str(archive_entry_pathname_utf8(e), archive_entry_pathname(e)) ?? ""
        type = UInt32(archive_entry_filetype(e))
        perm = UInt32(archive_entry_perm(e)) & 0o7777
        uid = Int(archive_entry_uid(e)); gid = Int(archive_entry_gid(e))
        uname = str(archive_entry_uname_utf8(e), archive_entry_uname(e))
        gname = str(archive_entry_gname_utf8(e), archive_entry_gname(e))
        mtime = Int64(archive_entry_mtime(e))
        size = archive_entry_size(e)
        symlink = archive_entry_symlink(e) == nil ? nil : str(archive_entry_symlink_utf8(e), archive_entry_symlink(e))
        hardlink = archive_entry_hardlink(e) == nil ? nil : str(archive_entry_hardlink_utf8(e), archive_entry_hardlink(e))
        rdev = archive_entry_rdev(e)
        if archive_entry_xattr_reset(e) > 0 {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK {
                guard let name else { continue }
                xattrs[String(cString: name)] = value.map { Data(bytes: $0, count: size) } ?? Data()
            }
        }
    }

    var isDevice: Bool { type == 0o020000 || type == 0o060000 || type == 0o010000 || type == 0o140000 }

    /// The entry as a TarEntry (content .none); throws for device nodes, fifos and sockets.
    func tarEntry(archive: String) throws -> TarEntry {
        let kind: TarEntry.Kind
        if let h = hardlink {
            kind = .hardlink(target: ArchiveReader.clean(h))
        } else {
            switch type {
            case 0o100000: kind = .file
            case 0o040000: kind = .directory
            case 0o120000: kind = .symlink(target: symlink ?? "")
            default:
                let what = [0o020000: "a character device", 0o060000: "a block device", 0o010000: "a fifo", 0o140000: "a socket"][Int(type)]
                    ?? "an entry of unknown type \(String(type, radix: 8))"
                throw ArchiveError.unsafeEntry(archive: archive, entry: path, reason: "\(what); kiln reads only files, directories and links")
            }
        }
        var t = TarEntry(path: ArchiveReader.clean(path), kind: kind, mode: perm, size: kind == .file ? size : 0)
        t.uid = uid; t.gid = gid
        t.uname = uname ?? ""; t.gname = gname ?? ""
        t.mtime = mtime
        t.xattrs = xattrs
        return t
    }
}

public struct ExtractOptions: Sendable {
    public var allowDevices = false
    public var allowSetuid = false
    public var preserveOwnership = false
    /// Symlinks with absolute targets are kept (they resolve inside the tree when it is used as a
    /// root file system); set false to refuse them too.
    public var allowAbsoluteSymlinks = true
    /// Most bytes of file data the extraction may write (nil: no limit); more is an error naming the
    /// entry and the limit, raised before the bytes over it are written (decompression bombs).
    public var maxTotalBytes: Int64?
    /// Most entries the extraction may create (nil: no limit): millions of empty files are a bomb too.
    public var maxEntries: Int?
    public init(allowDevices: Bool = false, allowSetuid: Bool = false, preserveOwnership: Bool = false,
                allowAbsoluteSymlinks: Bool = true, maxTotalBytes: Int64? = nil, maxEntries: Int? = nil) {
        self.maxEntries = maxEntries
        self.allowDevices = allowDevices; self.allowSetuid = allowSetuid
        self.preserveOwnership = preserveOwnership; self.allowAbsoluteSymlinks = allowAbsoluteSymlinks
        self.maxTotalBytes = maxTotalBytes
    }
}

/// Limits on archives read from untrusted places.
public enum ArchiveLimits {
    /// Most bytes one image layer may inflate to: 16 GiB unless the environment variable
    /// `KILN_MAX_INFLATED_LAYER_BYTES` gives another byte count.
    public static var maxInflatedLayerBytes: Int64 {
        ProcessInfo.processInfo.environment["KILN_MAX_INFLATED_LAYER_BYTES"].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil } ?? 16 << 30
    }
}

public struct ArchiveReader {
    /// All entries with their data (for small archives: everything is in memory). Custom PAX
    /// records (e.g. APK-TOOLS.checksum.SHA1) are returned in `entry.pax`.
    public static func entries(data: Data, name: String = "<memory>") throws -> [(entry: TarEntry, data: Data)] {
        // Inflated once into memory the handle owns; the scan below sees it without a copy.
        let inflated = Gzip.isGzip(data) ? try Gzip.decompressToBuffer(data) : nil
        let tar = inflated.map { Data(bytesNoCopy: $0.base, count: $0.count, deallocator: .none) } ?? data
        // custom PAX records can only be scanned in plain tar (gzip is undone above; xz/zstd are not)
        let isTar = tar.count >= 512 && tar[tar.startIndex + 257..<tar.startIndex + 262] == Data("ustar".utf8)
        let paxRecords = isTar ? try PaxScan.customRecords(tar, name: name) : []
        let h = try inflated.map { try ReadHandle(buffer: $0, name: name) } ?? ReadHandle(data: tar, name: name)
        var out: [(entry: TarEntry, data: Data)] = []
        while let raw = try h.next() {
            var e = try raw.tarEntry(archive: name)
            var body = Data()
            try h.readData { body.append(contentsOf: $0) }
            if e.kind == .file { e.content = .data(body) }
            let i = out.count
            if i < paxRecords.count, paxRecords[i].path == e.path { e.pax = paxRecords[i].records }
            else if isTar, i < paxRecords.count, !paxRecords[i].records.isEmpty {
                throw ArchiveError.corrupt(context: name, reason: "cannot match PAX records of '\(paxRecords[i].path)' to entry '\(e.path)'")
            }
            out.append((e, body))
        }
        return out
    }

    /// Streams a tar file (plain or compressed; gzip may be several members) entry by entry without
    /// holding the archive or its entries in memory: `body` gets each entry and a function reading that
    /// entry's data (call it only for the entries you keep; the others are read through and dropped).
    /// Inflating past `maxInflatedBytes` is refused as soon as it happens, naming the entry
    /// (`ArchiveError.tooLarge`) — before anything read from the archive is used.
    public static func forEach(path: String, name: String? = nil,
                               maxInflatedBytes: Int64? = ArchiveLimits.maxInflatedLayerBytes,
                               _ body: (TarEntry, () throws -> Data) throws -> Void) throws {
        let label = name ?? path
        let h = try ReadHandle(path: path)
        while let raw = try h.next() {
            let e = try raw.tarEntry(archive: label)
            func check() throws {
                if let cap = maxInflatedBytes, h.inflatedBytes > cap { throw ArchiveError.tooLarge(archive: label, entry: e.path, limit: cap) }
            }
            try check()
            var consumed = false
            try body(e) {
                guard !consumed else { return Data() }
                consumed = true
                var d = Data()
                try h.readData { try check(); d.append(contentsOf: $0) }
                return d
            }
            if !consumed { try h.readData { _ in try check() } }
            try check()
        }
    }

    public static func entries(path: String) throws -> [(entry: TarEntry, data: Data)] {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw ArchiveError.io(path: path, what: "cannot read", errno: errno == 0 ? ENOENT : errno)
        }
        return try entries(data: d, name: path)
    }

    /// Extracts safely into `destination` (created if missing); returns the entries extracted.
    /// Refuses absolute paths, `..`, writing through symlinks, symlinks and hardlinks that point
    /// outside, device nodes/fifos and setuid/setgid bits unless allowed. Stops at the first refusal
    /// (extract into a fresh directory and discard it on error).
    @discardableResult
    public static func extract(path: String, to destination: String, options: ExtractOptions = .init()) throws -> [TarEntry] {
        let h = try ReadHandle(path: path)
        let x = try Extractor(destination: destination, archive: path, options: options)
        var out: [TarEntry] = []
        while let raw = try h.next() {
            if let e = try x.extract(raw, h) { out.append(e) }
        }
        try x.finish()
        return out
    }

    /// Same, from bytes in memory.
    @discardableResult
    public static func extract(data: Data, to destination: String, options: ExtractOptions = .init()) throws -> [TarEntry] {
        let h = try ReadHandle(data: data)
        let x = try Extractor(destination: destination, archive: "<memory>", options: options)
        var out: [TarEntry] = []
        while let raw = try h.next() {
            if let e = try x.extract(raw, h) { out.append(e) }
        }
        try x.finish()
        return out
    }

    /// Strips "./" prefixes, trailing "/" and empty/"." components (no safety checks): an entry's
    /// path as `ArchiveReader` and `TarStreamEntry.tarEntry` report it.
    public static func clean(_ path: String) -> String {
        (path.hasPrefix("/") ? "/" : "") + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}
