import Foundation

/// Just enough ELF to say which sections of two binaries differ.
public enum ELFSections {
    public struct Section: Equatable {
        public var name: String
        public var type: UInt32
        public var offset: UInt64
        public var size: UInt64
    }

    public static func isELF(_ d: Data) -> Bool { d.count >= 16 && d.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]) }

    /// Section headers, or nil when the file is not a well-formed ELF file.
    public static func sections(_ d: Data) -> [Section]? {
        guard isELF(d) else { return nil }
        let b = [UInt8](d)
        let is64 = b[4] == 2, le = b[5] == 1
        func u(_ off: Int, _ n: Int) -> UInt64? {
            guard off >= 0, off + n <= b.count else { return nil }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(b[off + (le ? i : n - 1 - i)]) << (8 * UInt64(i)) }
            return v
        }
        guard let shoff = is64 ? u(0x28, 8) : u(0x20, 4),
              let shentsize = is64 ? u(0x3A, 2) : u(0x2E, 2),
              let shnum = is64 ? u(0x3C, 2) : u(0x30, 2),
              let shstrndx = is64 ? u(0x3E, 2) : u(0x32, 2),
              shoff > 0, shnum > 0, shnum < 65280, shentsize >= (is64 ? 64 : 40) else { return nil }
        var raw: [(nameOff: UInt64, type: UInt32, offset: UInt64, size: UInt64)] = []
        for i in 0..<Int(shnum) {
            let h = Int(shoff) + i * Int(shentsize)
            guard let nameOff = u(h, 4), let type = u(h + 4, 4),
                  let off = is64 ? u(h + 0x18, 8) : u(h + 0x10, 4),
                  let size = is64 ? u(h + 0x20, 8) : u(h + 0x14, 4) else { return nil }
            raw.append((nameOff, UInt32(type), off, size))
        }
        guard Int(shstrndx) < raw.count else { return nil }
        let strtab = raw[Int(shstrndx)]
        func name(_ off: UInt64) -> String {
            var p = Int(strtab.offset + off), s = [UInt8]()
            while p < b.count, p < Int(strtab.offset + strtab.size), b[p] != 0 { s.append(b[p]); p += 1 }
            return String(decoding: s, as: UTF8.self)
        }
        return raw.enumerated().map { i, r in
            Section(name: i == 0 && r.type == 0 ? "<null>" : name(r.nameOff), type: r.type, offset: r.offset, size: r.size)
        }
    }

    static func content(_ d: Data, _ s: Section) -> Data {
        if s.type == 8 { return Data() }      // SHT_NOBITS (.bss) has no bytes in the file
        let lo = Int(min(s.offset, UInt64(d.count))), hi = Int(min(s.offset + s.size, UInt64(d.count)))
        return d.subdata(in: (d.startIndex + lo)..<(d.startIndex + hi))
    }

    /// Human-readable differences: `.text (content)`, `.comment (size 41 → 45)`, `.foo (only in b)`,
    /// plus `ELF header` / `section layout` when those differ.
    public static func differences(_ a: Data, _ b: Data) -> [String]? {
        guard let sa = sections(a), let sb = sections(b) else { return nil }
        var out: [String] = []
        if a.prefix(64) != b.prefix(64) { out.append("ELF header") }
        var byNameB: [String: [Section]] = [:]
        for s in sb { byNameB[s.name, default: []].append(s) }
        var seen: [String: Int] = [:]
        for s in sa {
            let k = seen[s.name, default: 0]; seen[s.name] = k + 1
            guard let list = byNameB[s.name], k < list.count else { out.append("\(s.name) (only in a)"); continue }
            let t = list[k]
            if s.size != t.size { out.append("\(s.name) (size \(s.size) → \(t.size))") }
            else if content(a, s) != content(b, t) { out.append("\(s.name) (content)") }
        }
        for (name, list) in byNameB.sorted(by: { $0.key < $1.key }) where list.count > seen[name, default: 0] {
            out.append("\(name) (only in b)")
        }
        if out.isEmpty && a != b { out.append("section layout or padding (no section's contents differ)") }
        return out
    }
}
