import Foundation

/// libarchive drops PAX keys it does not know, so custom records (APK-TOOLS.checksum.SHA1, …) are
/// read with `TarStream` (POSIX dialect): one result per real entry, in archive order.
enum PaxScan {
    static let known: Set<String> = ["path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime",
                                     "atime", "ctime", "hdrcharset", "charset", "comment"]
    static let knownPrefixes = ["SCHILY.", "LIBARCHIVE.", "GNU.", "RHT.", "SUN."]

    static func customRecords(_ tar: Data, name: String) throws -> [(path: String, records: [String: String])] {
        try TarStream.parse(tar, context: name, dialect: .posix, keepFileData: false).entries.map { e in
            (ArchiveReader.clean(e.path), e.customPAX)
        }
    }
}

extension TarStreamEntry {
    /// The PAX records that are not standard tar attributes (those `ArchiveReader` returns in
    /// `TarEntry.pax`, such as `APK-TOOLS.checksum.SHA1`).
    public var customPAX: [String: String] {
        pax.filter { k, _ in !PaxScan.known.contains(k) && !PaxScan.knownPrefixes.contains(where: { k.hasPrefix($0) }) }
    }
}
