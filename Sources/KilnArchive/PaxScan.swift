import Foundation

/// libarchive drops PAX keys it does not know, so custom records (APK-TOOLS.checksum.SHA1, …) are
/// read with `TarStream` (POSIX dialect): one result per real entry, in archive order.
enum PaxScan {
    static let known: Set<String> = ["path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime",
                                     "atime", "ctime", "hdrcharset", "charset", "comment"]
    static let knownPrefixes = ["SCHILY.", "LIBARCHIVE.", "GNU.", "RHT.", "SUN."]

    static func customRecords(_ tar: Data, name: String) throws -> [(path: String, records: [String: String])] {
        try TarStream.parse(tar, context: name, dialect: .posix, keepFileData: false).entries.map { e in
            let custom = e.pax.filter { k, _ in !known.contains(k) && !knownPrefixes.contains(where: { k.hasPrefix($0) }) }
            return (ArchiveReader.clean(e.path), custom)
        }
    }
}
