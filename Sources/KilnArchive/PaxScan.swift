import Foundation

/// libarchive drops PAX keys it does not know, so custom records (APK-TOOLS.checksum.SHA1, …) are
/// read by walking the raw tar headers: one result per real entry, in archive order.
enum PaxScan {
    static let known: Set<String> = ["path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime",
                                     "atime", "ctime", "hdrcharset", "charset", "comment"]
    static let knownPrefixes = ["SCHILY.", "LIBARCHIVE.", "GNU.", "RHT.", "SUN."]

    static func customRecords(_ tar: Data, name: String) throws -> [(path: String, records: [String: String])] {
        let bytes = [UInt8](tar)
        var out: [(path: String, records: [String: String])] = []
        var off = 0
        var pending: [String: [UInt8]] = [:]
        var longName: String?
        while off + 512 <= bytes.count {
            let h = bytes[off..<(off + 512)]
            if h.allSatisfy({ $0 == 0 }) { break }
            let type = h[off + 156]
            var size = Int(numeric(h[(off + 124)..<(off + 136)]))
            let dataStart = off + 512
            if [UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(type) { size = 0 }
            if let s = pending["size"], type != UInt8(ascii: "x"), let v = Int(String(decoding: s, as: UTF8.self)) { size = v }
            guard size >= 0, dataStart + size <= bytes.count else {
                throw ArchiveError.corrupt(context: name, reason: "truncated tar entry at byte \(off)")
            }
            let data = bytes[dataStart..<(dataStart + size)]
            switch type {
            case UInt8(ascii: "x"):
                for (key, raw) in try PaxHeader.parseRecords(data) { pending[key] = PaxHeader.value(of: raw) }
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "g"), UInt8(ascii: "K"):
                break
            default:
                var path = string(h[(off + 0)..<(off + 100)])
                let magic = string(h[(off + 257)..<(off + 263)])
                let prefix = magic == "ustar" ? string(h[(off + 345)..<(off + 500)]) : ""
                if !prefix.isEmpty { path = prefix + "/" + path }
                if let l = longName { path = l }
                if let p = pending["path"] { path = String(decoding: p, as: UTF8.self) }
                var custom: [String: String] = [:]
                for (k, v) in pending where !known.contains(k) && !knownPrefixes.contains(where: { k.hasPrefix($0) }) {
                    custom[k] = String(decoding: v, as: UTF8.self)
                }
                out.append((ArchiveReader.clean(path), custom))
                pending = [:]; longName = nil
            }
            off = dataStart + PaxHeader.padded(size)
        }
        return out
    }

    static func string(_ field: ArraySlice<UInt8>) -> String {
        String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Octal, or base-256 when the high bit of the first byte is set.
    static func numeric(_ field: ArraySlice<UInt8>) -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            var v: Int64 = Int64(first & 0x7f)
            for b in field.dropFirst() { v = (v << 8) | Int64(b) }
            return v
        }
        return PaxHeader.octal(field)
    }
}
