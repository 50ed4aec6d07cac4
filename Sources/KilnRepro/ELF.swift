import Foundation
import KilnArchive

/// Just enough ELF to say which sections of two binaries differ.
public enum ELFSections {
    public struct Section: Equatable {
        public var name: String
        public var type: UInt32
        public var offset: UInt64
        public var size: UInt64
    }

    public static func isELF(_ d: Data) -> Bool { d.count >= 16 && d.prefix(4) == Data([0x7f, 0x45, 0x4c, 0x46]) }

    /// Section headers, or nil when the file is not a well-formed ELF file (KilnArchive's `ELFFile`).
    public static func sections(_ d: Data) -> [Section]? {
        guard isELF(d), let f = ELFFile(d), let (raw, names) = f.sectionHeaders() else { return nil }
        let strtab = raw[names]
        return raw.enumerated().map { i, r in
            Section(name: i == 0 && r.type == 0 ? "<null>" : f.name(at: r.nameOffset, in: strtab), type: r.type,
                    offset: r.offset, size: r.size)
        }
    }

    static func content(_ d: Data, _ s: Section) -> Data {
        if s.type == 8 { return Data() }      // SHT_NOBITS (.bss) has no bytes in the file
        let lo = Int(min(s.offset, UInt64(d.count)))
        let (end, overflow) = s.offset.addingReportingOverflow(s.size)
        let hi = Int(min(overflow ? UInt64(d.count) : end, UInt64(d.count)))
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
