import Foundation

/// Adds custom PAX records (libarchive has no API for them) to the header bytes libarchive
/// produced for one entry, and drops libarchive's duplicate `LIBARCHIVE.xattr.*` records
/// (the `SCHILY.xattr.*` ones are what GNU tar and apk read).
enum PaxHeader {
    static let block = 512

    static func rewrite(_ header: [UInt8], custom: [String: String], entry: String) throws -> [UInt8] {
        guard header.count >= block, header.count % block == 0 else {
            throw ArchiveError.corrupt(context: "tar entry \(entry)", reason: "unexpected header length \(header.count)")
        }
        let extra = try custom.sorted { TarEntry.pathPrecedes($0.key, $1.key) }.flatMap { key, value -> [UInt8] in
            if key.isEmpty || key.contains("=") || key.utf8.contains(0) {
                throw ArchiveError.invalidEntry(path: entry, reason: "invalid PAX key '\(key)'")
            }
            return record(key, Array(value.utf8))
        }
        if header[156] == UInt8(ascii: "x") {
            let size = Int(octal(header[124..<136]))
            let dataEnd = block + size
            guard dataEnd <= header.count else {
                throw ArchiveError.corrupt(context: "tar entry \(entry)", reason: "PAX header longer than captured")
            }
            var records = [UInt8]()
            for (key, raw) in try parseRecords(header[block..<dataEnd]) where !key.hasPrefix("LIBARCHIVE.xattr.") {
                records += raw
            }
            records += extra
            let rest = Array(header[(block + padded(size))...])
            if records.isEmpty { return rest }
            return xHeader(from: Array(header[0..<block]), name: nil, records: records) + rest
        }
        guard !extra.isEmpty else { return header }
        return xHeader(from: Array(header[0..<block]), name: paxName(entry), records: extra) + header
    }

    /// The 'x' header block + padded records. `name` nil keeps the template's name.
    static func xHeader(from template: [UInt8], name: String?, records: [UInt8]) -> [UInt8] {
        var h = template
        if let name {
            put(&h, 0, 100, Array(name.utf8))
            put(&h, 100, 8, Array("000644 \0".utf8))
            put(&h, 157, 100, [])            // linkname
            put(&h, 345, 155, [])            // prefix
            h[156] = UInt8(ascii: "x")
        }
        put(&h, 124, 12, Array((String(repeating: "0", count: 11) + String(records.count, radix: 8)).suffix(11).utf8) + [0x20])
        checksum(&h)
        return h + records + [UInt8](repeating: 0, count: padded(records.count) - records.count)
    }

    static func paxName(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let base = String(parts.last ?? "")
        let dir = parts.dropLast().joined(separator: "/")
        let full = dir.isEmpty ? "PaxHeader/" + base : dir + "/PaxHeader/" + base
        if full.utf8.count <= 99 { return full }
        return String(decoding: Array(("PaxHeader/" + base).utf8.prefix(99)), as: UTF8.self)
    }

    static func put(_ h: inout [UInt8], _ off: Int, _ len: Int, _ bytes: [UInt8]) {
        for i in 0..<len { h[off + i] = i < bytes.count ? bytes[i] : 0 }
    }

    static func checksum(_ h: inout [UInt8]) {
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h[0..<block].reduce(0) { $0 + Int($1) }
        let s = String(repeating: "0", count: 6) + String(sum, radix: 8)
        put(&h, 148, 8, Array(s.suffix(6).utf8) + [0, 0x20])
    }

    static func padded(_ n: Int) -> Int { (n + block - 1) / block * block }

    static func octal(_ field: ArraySlice<UInt8>) -> Int64 {
        var v: Int64 = 0
        for c in field {
            if c == 0 || c == 0x20 { if v > 0 { break } else { continue } }
            guard c >= 0x30 && c <= 0x37 else { break }
            v = v * 8 + Int64(c - 0x30)
        }
        return v
    }

    /// One "LEN key=value\n" record; LEN counts itself.
    static func record(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let body = key.utf8.count + value.count + 3
        var len = body + String(body).count
        if String(len).count != String(body).count { len = body + String(len).count }
        return Array("\(len) \(key)=".utf8) + value + [0x0a]
    }

    /// Parses PAX records into (key, raw record bytes) keeping binary values intact.
    static func parseRecords(_ data: ArraySlice<UInt8>) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        var i = data.startIndex
        while i < data.endIndex {
            if data[i] == 0 { break }
            // `len <= endIndex - i` rather than `i + len <= endIndex`: a crafted length near Int.max must not overflow.
            guard let sp = data[i...].firstIndex(of: 0x20), let len = Int(String(decoding: data[i..<sp], as: UTF8.self)),
                  len > sp - i, len <= data.endIndex - i, data[i + len - 1] == 0x0a,
                  let eq = data[(sp + 1)..<(i + len)].firstIndex(of: UInt8(ascii: "="))
            else { throw ArchiveError.corrupt(context: "tar", reason: "malformed PAX record at byte \(i - data.startIndex) (bad length, or no `=` or newline)") }
            out.append((String(decoding: data[(sp + 1)..<eq], as: UTF8.self), Array(data[i..<(i + len)])))
            i += len
        }
        return out
    }

    /// Value bytes of a raw record.
    static func value(of raw: [UInt8]) -> [UInt8] {
        guard let eq = raw.firstIndex(of: UInt8(ascii: "=")) else { return [] }
        return Array(raw[(eq + 1)..<(raw.count - 1)])
    }
}
