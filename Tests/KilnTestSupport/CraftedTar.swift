import Foundation

/// Hand-made tar bytes for hostile-input tests: headers whose fields no well-behaved writer would
/// produce (base-256 sizes near `Int64.max`, a size of `-1`, PAX records with absurd lengths).
public enum CraftedTar {
    /// A 512-byte ustar header. `sizeField` is stored verbatim in the 12-byte size field (pad or
    /// truncate it yourself); the checksum is computed.
    public static func header(name: String, type: UInt8 = UInt8(ascii: "0"), sizeField: [UInt8],
                              link: String = "", mode: String = "0000644") -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ off: Int, _ len: Int, _ bytes: [UInt8]) { for i in 0..<min(len, bytes.count) { h[off + i] = bytes[i] } }
        put(0, 100, Array(name.utf8))
        put(100, 8, Array(mode.utf8))
        put(108, 8, Array("0000000".utf8)); put(116, 8, Array("0000000".utf8))
        put(124, 12, sizeField)
        put(136, 12, Array("00000000000".utf8))
        h[156] = type
        put(157, 100, Array(link.utf8))
        put(257, 6, Array("ustar\0".utf8)); put(263, 2, Array("00".utf8))
        for i in 148..<156 { h[i] = 0x20 }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(148, 8, Array(String(format: "%06o", sum).utf8) + [0, 0x20])
        return h
    }

    /// An octal size field for `n`.
    public static func octal(_ n: Int) -> [UInt8] { Array(String(format: "%011o", n).utf8) + [0] }

    /// A regular file entry with its data padded to 512 bytes.
    public static func file(_ name: String, _ data: [UInt8], type: UInt8 = UInt8(ascii: "0"), link: String = "") -> [UInt8] {
        header(name: name, type: type, sizeField: octal(data.count), link: link) + padded(data)
    }

    /// A PAX extended header (`x`) holding `records` (raw "LEN key=value\n" text, not checked).
    public static func pax(_ records: String) -> [UInt8] {
        let body = Array(records.utf8)
        return header(name: "PaxHeader", type: UInt8(ascii: "x"), sizeField: octal(body.count)) + padded(body)
    }

    /// One well-formed PAX record.
    public static func record(_ key: String, _ value: String) -> String {
        let body = key.utf8.count + value.utf8.count + 3
        var len = body + String(body).count
        if String(len).count != String(body).count { len = body + String(len).count }
        return "\(len) \(key)=\(value)\n"
    }

    /// Two zero blocks.
    public static let endOfArchive = [UInt8](repeating: 0, count: 1024)

    /// `data` padded with zeros to a multiple of 512.
    public static func padded(_ data: [UInt8]) -> [UInt8] {
        data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// The GNU base-256 size field the architecture review used: near `Int64.max`.
    public static let base256NearMax: [UInt8] = [0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff]
}
