import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// Hashes (SHA-256) and counts the bytes passing through, then hands them on. `close()` closes
/// the next sink and finalizes the digest.
final class HashingSink: ByteSink {
    let next: ByteSink
    private let stream: DigestStream
    private(set) var byteCount: Int64 = 0
    private(set) var digest: [UInt8]?

    init(_ next: ByteSink) throws {
        self.next = next
        stream = try DigestStream(.sha256)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        byteCount += Int64(bytes.count)
        stream.update(bytes)
        try next.write(bytes)
    }

    func close() throws {
        try next.close()
        if digest == nil { digest = try stream.finalize() }
    }
}

/// Walks a directory into sorted tar entries (for layers from an unpacked tree, e.g. the
/// benchmark). Owners are root, mtimes come from the writer's epoch, regular files are read into
/// memory lazily by the layer writer; hardlinked inodes become tar hardlinks.
public enum DirectoryTree {
    public static func entries(root: String) throws -> [TarEntry] {
        var out: [TarEntry] = []
        var inodes: [String: String] = [:]
        func walk(_ rel: String) throws {
            let dir = rel.isEmpty ? root : root + "/" + rel
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                throw KilnMessage("\(dir): cannot list directory")
            }
            for name in names.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                let r = rel.isEmpty ? name : rel + "/" + name
                let full = root + "/" + r
                var st = stat()
                guard lstat(full, &st) == 0 else { throw KilnMessage("\(full): cannot stat: \(String(cString: strerror(errno)))") }
                let mode = UInt32(st.st_mode) & 0o7777
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    out.append(TarEntry(path: r, kind: .directory, mode: mode))
                    try walk(r)
                case S_IFREG:
                    let key = "\(st.st_dev):\(st.st_ino)"
                    if st.st_nlink > 1, let first = inodes[key] {
                        out.append(TarEntry(path: r, kind: .hardlink(target: first), mode: mode))
                    } else {
                        if st.st_nlink > 1 { inodes[key] = r }
                        out.append(TarEntry(path: r, kind: .file, mode: mode, content: .file(path: full), size: Int64(st.st_size)))
                    }
                case S_IFLNK:
                    let target = try FileManager.default.destinationOfSymbolicLink(atPath: full)
                    out.append(TarEntry(path: r, kind: .symlink(target: target), mode: 0o777))
                default:
                    continue    // devices, fifos, sockets never go into layers
                }
            }
        }
        try walk("")
        return out
    }
}
