import Foundation
import KilnArchive
import KilnCore

/// The differ's two passes over a tar or tar.gz file (an .apk, an image layer), through
/// KilnArchive's streaming readers (`GzipMemberReader`, `TarStreamScanner`): pass 1 turns every
/// entry into metadata and a `ContentDigest` without keeping contents; pass 2 reads again only the
/// entries that differ, keeping a capped head and one block of each. Memory is bounded by the
/// number of entries, never by their sizes. Inflating is refused past
/// `ArchiveLimits.maxInflatedLayerBytes`, as for every layer kiln reads.
enum ArchiveScan {
    /// How the file is stored.
    enum Storage { case gzip, tar }

    /// What pass 1 learns of an archive.
    struct Summary {
        var entries: [ArtifactEntry]
        /// Of the file itself.
        var raw: ContentDigest
        /// Of the inflated stream (gzip'd files only).
        var uncompressed: ContentDigest?
    }

    /// The inflated bytes are not a tar stream.
    struct NotTar: Error {}
    /// Pass 2 has what it wants.
    struct Stop: Error {}

    /// gzip, plain tar (ustar magic), or nil (neither) from the first bytes of the file.
    static func storage(_ path: String) throws -> Storage? {
        var head = Data()
        do {
            try read(path) { piece in
                head.append(contentsOf: piece.prefix(512 - head.count))
                if head.count >= 512 { throw Stop() }
            }
        } catch is Stop {}
        if head.count >= 2 && head[0] == 0x1f && head[1] == 0x8b { return .gzip }
        return head.count >= 512 && head[257..<262] == Data("ustar".utf8) ? .tar : nil
    }

    /// Reads the file at `path` sequentially in 256 KiB pieces.
    static func read(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReproError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = Foundation.read(fd, buf.baseAddress, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ReproError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
    }

    /// Streams the archive: the file's bytes to `raw`, the inflated (or plain) tar bytes to
    /// `inflated`, and the tar walker's events to `onEvent`. A stream that does not start like a tar
    /// (ustar magic or an empty archive) is `NotTar`.
    static func stream(_ path: String, _ storage: Storage, name: String,
                       limit: Int = Int(clamping: ArchiveLimits.maxInflatedLayerBytes),
                       raw: (UnsafeRawBufferPointer) throws -> Void = { _ in },
                       inflated: (UnsafeRawBufferPointer) throws -> Void = { _ in },
                       onEvent: @escaping (TarStreamEvent) throws -> Void) throws {
        let scanner = TarStreamScanner(context: name, dialect: .posix, keepFileData: false, onEvent: onEvent)
        var first = Data(), checked = false
        func tar(_ p: UnsafeRawBufferPointer) throws {
            try inflated(p)
            if checked { return try scanner.feed(p) }
            first.append(contentsOf: p)
            guard first.count >= 512 else { return }
            checked = true
            guard first[257..<262] == Data("ustar".utf8) || first.prefix(512).allSatisfy({ $0 == 0 }) else { throw NotTar() }
            try first.withUnsafeBytes { try scanner.feed($0) }
            first = Data()
        }
        switch storage {
        case .tar:
            try read(path) { try raw($0); try tar($0) }
        case .gzip:
            let reader: GzipMemberReader
            do { reader = try GzipMemberReader(path: path) } catch let e as ArchiveError {
                throw ReproError.unreadable(path: path, reason: "\(e)")
            }
            try reader.inflateAll(totalLimit: limit, compressed: raw, inflated: tar)
        }
        guard checked else { throw NotTar() }
        _ = try scanner.finish()
    }

    /// Pass 1: every entry's metadata and content digest, the file's digest and the inflated stream's.
    static func summarize(_ path: String, _ storage: Storage, name: String,
                          limit: Int = Int(clamping: ArchiveLimits.maxInflatedLayerBytes)) throws -> Summary {
        let rawHash = try ContentHasher(), streamHash = try ContentHasher()
        var entries: [ArtifactEntry] = []
        var current: TarStreamEntry?
        var hasher: ContentHasher?
        try stream(path, storage, name: name, limit: limit, raw: { try rawHash.update($0) }, inflated: { try streamHash.update($0) }) { event in
            switch event {
            case .entry(let e):
                current = e
                hasher = e.kind == .file ? try ContentHasher() : nil
            case .data(let piece):
                try hasher?.update(piece)
            case .end:
                guard let e = current else { return }
                entries.append(convert(e, digest: try hasher?.finish() ?? .empty, content: .member(archive: path, index: entries.count)))
                current = nil; hasher = nil
            }
        }
        return Summary(entries: entries, raw: try rawHash.finish(), uncompressed: storage == .gzip ? try streamHash.finish() : nil)
    }

    /// Pass 2: for each wanted entry (by index), its first `head` bytes and one block.
    static func collect(_ path: String, _ storage: Storage, name: String,
                        wants: [Int: (head: Int, block: Int?)]) throws -> [Int: ContentCollector] {
        var out: [Int: ContentCollector] = [:]
        guard let last = wants.keys.max() else { return out }
        var index = -1
        var current: ContentCollector?
        do {
            try stream(path, storage, name: name) { event in
                switch event {
                case .entry:
                    index += 1
                    current = wants[index].map { ContentCollector(head: $0.head, block: $0.block) }
                    if let c = current { out[index] = c }
                case .data(let piece):
                    guard let c = current else { return }
                    c.update(piece)
                    if index == last && c.satisfied { throw Stop() }
                case .end:
                    if index >= last { throw Stop() }
                }
            }
        } catch is Stop {}
        return out
    }

    /// Pass 2 of the inflated stream: its block `block` (to find the first differing uncompressed byte).
    static func inflatedBlock(_ path: String, name: String, block: Int) throws -> Data {
        let c = ContentCollector(head: 0, block: block)
        do {
            try stream(path, .gzip, name: name, inflated: { c.update($0); if c.satisfied { throw Stop() } }) { _ in }
        } catch is Stop {}
        return c.block
    }

    /// A tar entry as the differ compares it: paths as `ArchiveReader` reports them, PAX ownership
    /// and mtime records applied as libarchive applies them, custom PAX records and xattrs as extras.
    static func convert(_ e: TarStreamEntry, digest: ContentDigest, content: ContentSource) -> ArtifactEntry {
        let kind: ArtifactEntry.Kind, target: String?
        switch e.kind {
        case .file: kind = .file; target = nil
        case .directory: kind = .directory; target = nil
        case .symlink: kind = .symlink; target = e.linkTarget ?? ""
        case .hardlink: kind = .hardlink; target = ArchiveReader.clean(e.linkTarget ?? "")
        default: kind = .other; target = nil
        }
        var extra: [String: String] = [:]
        for (k, v) in e.customPAX { extra["pax:" + k] = v }
        for (k, v) in e.xattrs { extra["xattr:" + k] = v.base64EncodedString() }
        let mtime = e.pax["mtime"].flatMap { Int64($0.prefix { $0 != "." }) } ?? e.mtime
        return ArtifactEntry(path: ArchiveReader.clean(e.path), kind: kind, mode: e.mode,
                             uid: e.pax["uid"].flatMap { Int($0) } ?? e.uid, gid: e.pax["gid"].flatMap { Int($0) } ?? e.gid,
                             uname: e.pax["uname"] ?? e.uname, gname: e.pax["gname"] ?? e.gname, mtime: mtime,
                             size: kind == .file ? e.size : 0, linkTarget: target, extra: extra, digest: digest, content: content)
    }
}
