import Foundation

/// What the dependency scanner needs from an ELF object: its interpreter (`PT_INTERP`), the
/// libraries it needs (`DT_NEEDED`) and its own shared-object name (`DT_SONAME`).
///
/// Parsed from the program headers only (`PT_DYNAMIC`, `DT_STRTAB` mapped through the `PT_LOAD`
/// segments), so stripped objects without section headers work too. ELF32/ELF64, little and big
/// endian. Every offset is bounds-checked: a malformed file yields `nil`, never a trap.
public struct ELFInfo: Equatable, Sendable {
    public enum FileType: Equatable, Sendable { case executable, sharedObject, relocatable, core, other(UInt16) }
    public var is64Bit: Bool
    public var littleEndian: Bool
    public var type: FileType
    public var machine: UInt16
    public var interpreter: String?
    public var needed: [String]
    public var soname: String?
    public var isDynamic: Bool

    /// True when `data` starts with the ELF magic.
    public static func isELF(_ data: Data) -> Bool {
        data.count >= 4 && data.prefix(4).elementsEqual([0x7f, 0x45, 0x4c, 0x46])
    }

    /// Parses `data`; `nil` when it is not an ELF file or is malformed.
    public static func parse(_ data: Data) -> ELFInfo? {
        let bytes = [UInt8](data)
        return ELFParser(bytes)?.run()
    }

    /// Parses the file at `path` when it starts with the ELF magic (reads only the 4-byte magic otherwise).
    public static func parse(path: String) -> ELFInfo? {
        guard let fh = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? fh.close() }
        guard let magic = try? fh.read(upToCount: 4), isELF(magic) else { return nil }
        try? fh.seek(toOffset: 0)
        guard let all = try? fh.readToEnd() else { return nil }
        return parse(all)
    }
}

private struct ELFParser {
    let b: [UInt8]
    let is64: Bool
    let le: Bool

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 52, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else { return nil }
        guard bytes[4] == 1 || bytes[4] == 2, bytes[5] == 1 || bytes[5] == 2 else { return nil }
        b = bytes
        is64 = bytes[4] == 2
        le = bytes[5] == 1
        if is64 && bytes.count < 64 { return nil }
    }

    func u16(_ o: Int) -> UInt16? {
        guard o >= 0, o + 2 <= b.count else { return nil }
        return le ? UInt16(b[o]) | UInt16(b[o + 1]) << 8 : UInt16(b[o]) << 8 | UInt16(b[o + 1])
    }
    func u32(_ o: Int) -> UInt32? {
        guard o >= 0, o + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[o + (le ? i : 3 - i)]) << (8 * UInt32(i)) }
        return v
    }
    func u64(_ o: Int) -> UInt64? {
        guard o >= 0, o + 8 <= b.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[o + (le ? i : 7 - i)]) << (8 * UInt64(i)) }
        return v
    }
    /// Word-sized field (32 or 64 bits by class) as Int, nil if out of range.
    func word(_ o: Int) -> Int? {
        if is64 { guard let v = u64(o), v <= UInt64(Int.max) else { return nil }; return Int(v) }
        guard let v = u32(o) else { return nil }
        return Int(v)
    }
    /// Signed word (d_tag), as Int64.
    func sword(_ o: Int) -> Int64? {
        if is64 { guard let v = u64(o) else { return nil }; return Int64(bitPattern: v) }
        guard let v = u32(o) else { return nil }
        return Int64(Int32(bitPattern: v))
    }
    func cString(_ o: Int, limit: Int) -> String? {
        guard o >= 0, o < b.count else { return nil }
        let end = min(b.count, limit)
        var i = o
        while i < end && b[i] != 0 { i += 1 }
        guard i < end else { return nil }
        return String(decoding: b[o..<i], as: UTF8.self)
    }

    struct Phdr { var type: UInt32; var offset: Int; var vaddr: Int; var filesz: Int; var memsz: Int }

    func run() -> ELFInfo? {
        guard let etype = u16(16), let machine = u16(18) else { return nil }
        let phoff: Int?, phentsize: UInt16?, phnum: UInt16?
        if is64 { phoff = word(32); phentsize = u16(54); phnum = u16(56) } else { phoff = word(28); phentsize = u16(42); phnum = u16(44) }
        guard let phoff, let phentsize, let phnum else { return nil }
        let type: ELFInfo.FileType
        switch etype {
        case 1: type = .relocatable
        case 2: type = .executable
        case 3: type = .sharedObject
        case 4: type = .core
        default: type = .other(etype)
        }
        var phdrs: [Phdr] = []
        let minSize = is64 ? 56 : 32
        if phnum > 0 {
            guard Int(phentsize) >= minSize else { return nil }
            for i in 0..<Int(phnum) {
                let o = phoff + i * Int(phentsize)
                guard o + minSize <= b.count, let t = u32(o) else { return nil }
                let p: Phdr?
                if is64 {
                    if let off = word(o + 8), let va = word(o + 16), let fs = word(o + 32), let ms = word(o + 40) {
                        p = Phdr(type: t, offset: off, vaddr: va, filesz: fs, memsz: ms)
                    } else { p = nil }
                } else {
                    if let off = word(o + 4), let va = word(o + 8), let fs = word(o + 16), let ms = word(o + 20) {
                        p = Phdr(type: t, offset: off, vaddr: va, filesz: fs, memsz: ms)
                    } else { p = nil }
                }
                guard let p else { return nil }
                phdrs.append(p)
            }
        }
        var info = ELFInfo(is64Bit: is64, littleEndian: le, type: type, machine: machine,
                           interpreter: nil, needed: [], soname: nil, isDynamic: false)
        // PT_INTERP = 3
        if let interp = phdrs.first(where: { $0.type == 3 }) {
            let (end, overflow) = interp.offset.addingReportingOverflow(interp.filesz)
            if !overflow, end <= b.count, let s = cString(interp.offset, limit: end) {
                info.interpreter = s
            } else if !overflow, end <= b.count {
                // No terminating NUL inside the segment: take it all.
                info.interpreter = String(decoding: b[interp.offset..<end], as: UTF8.self)
            }
        }
        // PT_DYNAMIC = 2
        guard let dyn = phdrs.first(where: { $0.type == 2 }) else { return info }
        info.isDynamic = true
        let entSize = is64 ? 16 : 8
        let (dynEnd, ovf) = dyn.offset.addingReportingOverflow(dyn.filesz)
        guard !ovf, dynEnd <= b.count else { return info }
        var needed: [Int] = [], soname: Int?, strtab: Int?, strsz: Int?
        var o = dyn.offset
        while o + entSize <= dynEnd {
            guard let tag = sword(o), let val = word(o + entSize / 2) else { break }
            switch tag {
            case 0: o = dynEnd; continue            // DT_NULL
            case 1: needed.append(val)              // DT_NEEDED
            case 5: strtab = val                    // DT_STRTAB (address)
            case 10: strsz = val                    // DT_STRSZ
            case 14: soname = val                   // DT_SONAME
            default: break
            }
            o += entSize
        }
        guard let strtab else { return info }
        // Map the string table's virtual address to a file offset through the PT_LOAD segments.
        var strOff: Int?
        for p in phdrs where p.type == 1 {
            if strtab >= p.vaddr, strtab - p.vaddr < p.filesz {
                strOff = p.offset + (strtab - p.vaddr); break
            }
        }
        if strOff == nil, type == .relocatable || phdrs.allSatisfy({ $0.type != 1 }) { strOff = strtab }
        guard let strOff, strOff >= 0, strOff < b.count else { return info }
        var limit = b.count
        if let strsz, strsz > 0 { let (e, of) = strOff.addingReportingOverflow(strsz); if !of { limit = min(limit, e) } }
        func str(_ idx: Int) -> String? {
            let (p, of) = strOff.addingReportingOverflow(idx)
            guard !of, idx >= 0 else { return nil }
            return cString(p, limit: limit)
        }
        info.needed = needed.compactMap(str)
        if let soname { info.soname = str(soname) }
        return info
    }
}
