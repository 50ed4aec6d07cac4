import CArchive
import Foundation
import KilnCore

public struct TarWriterOptions: Sendable {
    /// mtime of every entry that does not carry its own (SOURCE_DATE_EPOCH).
    public var epoch: Int64
    /// false: omit the two zero blocks (APK signature/control members must not contain any).
    public var endOfArchive: Bool = true
    /// true: entries are buffered and written in byte order of path at `finish()`.
    public var sortEntries: Bool = true
    public init(epoch: Int64, endOfArchive: Bool = true, sortEntries: Bool = true) {
        self.epoch = epoch; self.endOfArchive = endOfArchive; self.sortEntries = sortEntries
    }
}

/// Deterministic tar (POSIX pax, "restricted": ustar headers, a PAX header only when needed) over
/// libarchive. Never writes atime/ctime; no blocking pad after the end-of-archive blocks.
public final class TarWriter {
    private let sink: ByteSink
    public let options: TarWriterOptions
    private var archive: OpaquePointer?
    private let state: WriteState
    private var pending: [TarEntry] = []
    private var lastPath: String?
    private var finished = false
    /// One read buffer for every `.file` entry (not one per entry; raw memory, so no
    /// copy-on-write check can ever copy it).
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    public var bytesWritten: Int64 { state.count }

    public init(sink: ByteSink, options: TarWriterOptions) throws {
        self.sink = sink
        self.options = options
        state = WriteState(sink)
        guard let a = archive_write_new() else { throw ArchiveError.libarchive(context: "tar", message: "out of memory") }
        archive = a
        var r = archive_write_set_format_pax_restricted(a)
        if r == ARCHIVE_OK { r = archive_write_set_bytes_per_block(a, 0) }   // unbuffered: no 10240 padding
        if r == ARCHIVE_OK {
            r = archive_write_open(a, Unmanaged.passUnretained(state).toOpaque(), nil, tarWriteCallback, nil)
        }
        if r != ARCHIVE_OK {
            let msg = TarWriter.errorString(a)
            archive_write_free(a); archive = nil
            throw ArchiveError.libarchive(context: "tar writer", message: msg)
        }
    }

    deinit {
        if let a = archive { archive_write_free(a) }
        readBuffer.deallocate()
    }

    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    /// Adds an entry (buffered until `finish()` when sorting).
    public func write(_ entry: TarEntry) throws {
        guard !finished else { throw ArchiveError.invalidEntry(path: entry.path, reason: "tar writer already finished") }
        var e = entry
        e.path = try TarWriter.normalize(entry.path)
        if options.sortEntries { pending.append(e) } else { try UTF8Locale.with { try writeNow(e) } }
    }

    /// Writes buffered entries, then the end-of-archive blocks unless disabled. Does not close the sink.
    public func finish() throws {
        guard !finished, let a = archive else { return }
        finished = true
        if options.sortEntries {
            let sorted = pending.sorted { TarEntry.pathPrecedes($0.path, $1.path) }
            pending = []
            try UTF8Locale.with { for e in sorted { try writeNow(e) } }
        }
        if !options.endOfArchive { state.mode = .discardZeros }
        let r = archive_write_close(a)
        try state.rethrow()
        if r != ARCHIVE_OK { throw ArchiveError.libarchive(context: "tar writer", message: TarWriter.errorString(a)) }
    }

    /// A whole archive in memory (entries sorted by path).
    public static func archive(_ entries: [TarEntry], options: TarWriterOptions) throws -> Data {
        let sink = DataSink()
        var o = options
        o.sortEntries = true
        let w = try TarWriter(sink: sink, options: o)
        for e in entries { try w.write(e) }
        try w.finish()
        return sink.data
    }

    static func normalize(_ path: String) throws -> String {
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        if p.isEmpty || p == "." { throw ArchiveError.invalidEntry(path: path, reason: "empty path") }
        if p.hasPrefix("/") { throw ArchiveError.invalidEntry(path: path, reason: "absolute path; tar paths must be relative") }
        if p.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0.isEmpty }) {
            throw ArchiveError.invalidEntry(path: path, reason: "path has '..' or empty components")
        }
        if p.utf8.contains(0) { throw ArchiveError.invalidEntry(path: path, reason: "NUL in path") }
        return p
    }

    private func writeNow(_ entry: TarEntry) throws {
        guard let a = archive else { return }
        if let last = lastPath, options.sortEntries, last == entry.path {
            throw ArchiveError.invalidEntry(path: entry.path, reason: "duplicate path in archive")
        }
        lastPath = entry.path
        guard let ae = archive_entry_new() else { throw ArchiveError.libarchive(context: "tar", message: "out of memory") }
        defer { archive_entry_free(ae) }
        var size: Int64 = 0
        var fd: Int32 = -1
        defer { if fd >= 0 { close(fd) } }
        archive_entry_update_pathname_utf8(ae, entry.path)
        switch entry.kind {
        case .file:
            archive_entry_set_filetype(ae, 0o100000)
            switch entry.content {
            case .none: size = 0
            case let .data(d): size = Int64(d.count)
            case let .file(path):
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw ArchiveError.io(path: path, what: "cannot open", errno: errno) }
                var st = stat()
                guard fstat(fd, &st) == 0 else { throw ArchiveError.io(path: path, what: "cannot stat", errno: errno) }
                size = Int64(st.st_size)
            }
        case .directory:
            archive_entry_set_filetype(ae, 0o040000)
        case let .symlink(target):
            archive_entry_set_filetype(ae, 0o120000)
            archive_entry_update_symlink_utf8(ae, target)
        case let .hardlink(target):
            archive_entry_set_filetype(ae, 0o100000)
            archive_entry_update_hardlink_utf8(ae, try TarWriter.normalize(target))
        }
        archive_entry_set_perm(ae, mode_t(entry.mode & 0o7777))
        archive_entry_set_size(ae, size)
        archive_entry_set_uid(ae, Int64(entry.uid))
        archive_entry_set_gid(ae, Int64(entry.gid))
        archive_entry_update_uname_utf8(ae, entry.uname)
        archive_entry_update_gname_utf8(ae, entry.gname)
        archive_entry_set_mtime(ae, time_t(entry.mtime ?? options.epoch), 0)
        for (name, value) in entry.xattrs.sorted(by: { TarEntry.pathPrecedes($0.key, $1.key) }) {
            value.withUnsafeBytes { archive_entry_xattr_add_entry(ae, name, $0.baseAddress, $0.count) }
        }

        state.mode = .capture
        let r = archive_write_header(a, ae)
        state.mode = .pass
        try state.rethrow()
        guard r == ARCHIVE_OK else {
            throw ArchiveError.libarchive(context: "tar entry \(entry.path)", message: TarWriter.errorString(a))
        }
        let header = try PaxHeader.rewrite(state.takeCaptured(), custom: entry.pax, entry: entry.path)
        try header.withUnsafeBytes { try state.forward($0) }

        switch entry.content {
        case let .data(d) where entry.kind == .file:
            try d.withUnsafeBytes { try writeData(a, $0, entry.path) }
        case let .file(path) where entry.kind == .file:
            var total: Int64 = 0
            while true {
                let n = read(fd, readBuffer.baseAddress, readBuffer.count)
                if n < 0 { if errno == EINTR { continue }; throw ArchiveError.io(path: path, what: "cannot read", errno: errno) }
                if n == 0 { break }
                total += Int64(n)
                if total > size { break }
                try writeData(a, UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]), entry.path)
            }
            if total != size {
                throw ArchiveError.invalidEntry(path: entry.path, reason: "\(path) changed size while being archived")
            }
        default: break
        }
        let f = archive_write_finish_entry(a)
        try state.rethrow()
        if f != ARCHIVE_OK { throw ArchiveError.libarchive(context: "tar entry \(entry.path)", message: TarWriter.errorString(a)) }
    }

    private func writeData(_ a: OpaquePointer, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        guard bytes.count > 0 else { return }
        let n = archive_write_data(a, bytes.baseAddress, bytes.count)
        try state.rethrow()
        if n != bytes.count { throw ArchiveError.libarchive(context: "tar entry \(path)", message: TarWriter.errorString(a)) }
    }
}

/// Bridges libarchive's write callback to a ByteSink; can capture header bytes or swallow the
/// end-of-archive zeros.
final class WriteState {
    enum Mode { case pass, capture, discardZeros }
    let sink: ByteSink
    var mode = Mode.pass
    var captured = [UInt8]()
    var error: Error?
    var count: Int64 = 0
    init(_ sink: ByteSink) { self.sink = sink }

    func takeCaptured() -> [UInt8] { defer { captured = [] }; return captured }
    func forward(_ bytes: UnsafeRawBufferPointer) throws {
        count += Int64(bytes.count)
        try sink.write(bytes)
    }
    func rethrow() throws { if let e = error { error = nil; throw e } }

    func handle(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            switch mode {
            case .pass: try forward(bytes)
            case .capture: captured.append(contentsOf: bytes)
            case .discardZeros:
                if bytes.contains(where: { $0 != 0 }) {
                    throw ArchiveError.corrupt(context: "tar writer", reason: "unexpected data after the last entry")
                }
            }
            return true
        } catch {
            self.error = error
            return false
        }
    }
}

private func tarWriteCallback(_ a: OpaquePointer?, _ client: UnsafeMutableRawPointer?,
                              _ buff: UnsafeRawPointer?, _ n: Int) -> Int {
    guard let client, let buff else { return -1 }
    let state = Unmanaged<WriteState>.fromOpaque(client).takeUnretainedValue()
    if state.handle(UnsafeRawBufferPointer(start: buff, count: n)) { return n }
    return -1   // the error is kept in state and rethrown by the writer
}
