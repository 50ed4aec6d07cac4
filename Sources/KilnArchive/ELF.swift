import Foundation
import KilnCore

/// The one ELF reader in kiln: header, program headers and section headers of ELF32/ELF64, little
/// and big endian, every offset and size checked through `ByteReader` (a crafted `e_phoff`,
/// `e_shoff` or segment size near the maximum yields `nil`, never a trap). Used by KilnAPK's
/// dependency scanner (`ELFInfo`), KilnRepro's section differ and KilnAudit's linkage and Go build-info
/// checks (`ELFInfo.rpath`/`runpath`, `ELFFile.sectionRange(named:)`); it lives in KilnArchive, the
/// binary-format module both already import, so the data flow (archive → apk → repro) is kept.
public struct ELFFile: Sendable {
    /// One program header (`Elf*_Phdr`), fields widened to `Int` (out-of-range values fail the parse).
    public struct ProgramHeader: Sendable, Equatable {
        /// `p_type` (1 `PT_LOAD`, 2 `PT_DYNAMIC`, 3 `PT_INTERP`, …).
        public var type: UInt32
        /// `p_offset`.
        public var offset: Int
        /// `p_vaddr`.
        public var vaddr: Int
        /// `p_filesz`.
        public var filesz: Int
        /// `p_memsz`.
        public var memsz: Int
    }

    /// One section header (`Elf*_Shdr`) with its name offset into the section-name table.
    public struct SectionHeader: Sendable, Equatable {
        /// `sh_name`.
        public var nameOffset: UInt64
        /// `sh_type` (8 = `SHT_NOBITS`).
        public var type: UInt32
        /// `sh_offset`.
        public var offset: UInt64
        /// `sh_size`.
        public var size: UInt64
    }

    /// The file's bytes (with the byte order of the file).
    public let reader: ByteReader
    /// ELFCLASS64.
    public let is64Bit: Bool
    /// ELFDATA2LSB.
    public var littleEndian: Bool { reader.littleEndian }

    /// True when `data` starts with the ELF magic.
    public static func isELF(_ data: Data) -> Bool {
        data.count >= 4 && data.prefix(4).elementsEqual([0x7f, 0x45, 0x4c, 0x46])
    }

    /// `nil` unless `data` has the ELF magic, a known class and byte order, and a whole header.
    public init?(_ data: Data) {
        let b = [UInt8](data)
        guard b.count >= 52, b[0] == 0x7f, b[1] == 0x45, b[2] == 0x4c, b[3] == 0x46,
              b[4] == 1 || b[4] == 2, b[5] == 1 || b[5] == 2 else { return nil }
        is64Bit = b[4] == 2
        if is64Bit && b.count < 64 { return nil }
        reader = ByteReader(b, littleEndian: b[5] == 1)
    }

    /// `e_type`.
    public var type: UInt16? { reader.u16(16) }
    /// `e_machine`.
    public var machine: UInt16? { reader.u16(18) }

    /// A class-sized word (`Elf32_Word`/`Elf64_Xword`) as `Int`; `nil` when out of bounds or > `Int.max`.
    public func word(_ o: Int) -> Int? {
        guard let v = is64Bit ? reader.u64(o) : reader.u32(o).map(UInt64.init) else { return nil }
        return Int(exactly: v)
    }

    /// A class-sized signed word (`d_tag`).
    public func signedWord(_ o: Int) -> Int64? {
        if is64Bit { return reader.u64(o).map { Int64(bitPattern: $0) } }
        return reader.u32(o).map { Int64(Int32(bitPattern: $0)) }
    }

    /// The program headers; `nil` when the table is malformed or lies outside the file.
    public func programHeaders() -> [ProgramHeader]? {
        let (offField, entField, numField) = is64Bit ? (32, 54, 56) : (28, 42, 44)
        guard let phoff = word(offField), let entsize = reader.u16(entField), let phnum = reader.u16(numField) else { return nil }
        let minSize = is64Bit ? 56 : 32
        guard phnum > 0 else { return [] }
        guard Int(entsize) >= minSize else { return nil }
        var out: [ProgramHeader] = []
        for i in 0..<Int(phnum) {
            guard let o = ByteReader.add(phoff, i * Int(entsize)), reader.range(o, minSize) != nil,
                  let t = reader.u32(o) else { return nil }
            let f = is64Bit ? (8, 16, 32, 40) : (4, 8, 16, 20)
            guard let off = word(o + f.0), let va = word(o + f.1), let fs = word(o + f.2), let ms = word(o + f.3) else { return nil }
            out.append(ProgramHeader(type: t, offset: off, vaddr: va, filesz: fs, memsz: ms))
        }
        return out
    }

    /// The section headers and the index of the section-name table; `nil` when there are none or
    /// the table is malformed or lies outside the file.
    public func sectionHeaders() -> (headers: [SectionHeader], nameTable: Int)? {
        let u = { (o: Int, n: Int) in reader.uint(o, size: n) }
        guard let shoff = is64Bit ? u(0x28, 8) : u(0x20, 4),
              let entsize = reader.u16(is64Bit ? 0x3A : 0x2E), let shnum = reader.u16(is64Bit ? 0x3C : 0x30),
              let shstrndx = reader.u16(is64Bit ? 0x3E : 0x32),
              shoff > 0, shnum > 0, shnum < 65280, Int(entsize) >= (is64Bit ? 64 : 40),
              let base = Int(exactly: shoff) else { return nil }
        var out: [SectionHeader] = []
        for i in 0..<Int(shnum) {
            guard let h = ByteReader.add(base, i * Int(entsize)), let nameOff = u(h, 4), let type = u(h + 4, 4),
                  let off = is64Bit ? u(h + 0x18, 8) : u(h + 0x10, 4),
                  let size = is64Bit ? u(h + 0x20, 8) : u(h + 0x14, 4) else { return nil }
            out.append(SectionHeader(nameOffset: nameOff, type: UInt32(type), offset: off, size: size))
        }
        guard Int(shstrndx) < out.count else { return nil }
        return (out, Int(shstrndx))
    }

    /// The NUL-terminated name at `offset` in the section `table`, clamped to that section and the
    /// file ("" when out of range).
    public func name(at offset: UInt64, in table: SectionHeader) -> String {
        guard let start = ByteReader.range(offset: table.offset, length: offset, within: reader.count)?.upperBound else { return "" }
        let end = ByteReader.range(offset: table.offset, length: table.size, within: reader.count)?.upperBound ?? reader.count
        return reader.cString(start, end: end) ?? String(decoding: reader.bytes[start..<max(start, end)], as: UTF8.self)
    }

    /// The byte range in the file of the first section called `name` (not `SHT_NOBITS`), clamped to
    /// the file; `nil` when there is no such section or the section table is malformed.
    public func sectionRange(named name: String) -> Range<Int>? {
        guard let (headers, names) = sectionHeaders() else { return nil }
        for h in headers where h.type != 8 && self.name(at: h.nameOffset, in: headers[names]) == name {
            return ByteReader.range(offset: h.offset, length: h.size, within: reader.count)
        }
        return nil
    }
}

/// What the dependency scanner needs from an ELF object: its interpreter (`PT_INTERP`), the
/// libraries it needs (`DT_NEEDED`) and its own shared-object name (`DT_SONAME`).
///
/// Parsed from the program headers only (`PT_DYNAMIC`, `DT_STRTAB` mapped through the `PT_LOAD`
/// segments), so stripped objects without section headers work too. A malformed file yields `nil`
/// (or fewer facts), never a trap.
public struct ELFInfo: Equatable, Sendable {
    /// `e_type`.
    public enum FileType: Equatable, Sendable { case executable, sharedObject, relocatable, core, other(UInt16) }
    /// ELFCLASS64.
    public var is64Bit: Bool
    /// ELFDATA2LSB.
    public var littleEndian: Bool
    /// The object type.
    public var type: FileType
    /// `e_machine`.
    public var machine: UInt16
    /// `PT_INTERP`.
    public var interpreter: String?
    /// `DT_NEEDED` entries.
    public var needed: [String]
    /// `DT_SONAME`.
    public var soname: String?
    /// Has a `PT_DYNAMIC` segment.
    public var isDynamic: Bool
    /// `DT_RPATH` (searched only when there is no `DT_RUNPATH`), as written (`:`-separated, `$ORIGIN` unexpanded).
    public var rpath: String? = nil
    /// `DT_RUNPATH`, as written.
    public var runpath: String? = nil

    /// True when `data` starts with the ELF magic.
    public static func isELF(_ data: Data) -> Bool { ELFFile.isELF(data) }

    /// Parses `data`; `nil` when it is not an ELF file or is malformed.
    public static func parse(_ data: Data) -> ELFInfo? {
        guard let f = ELFFile(data) else { return nil }
        return ELFDynamicReader(f: f).run()
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

/// Reads `PT_INTERP` and the dynamic section of one `ELFFile`.
private struct ELFDynamicReader {
    let f: ELFFile
    var b: ByteReader { f.reader }

    func run() -> ELFInfo? {
        guard let etype = f.type, let machine = f.machine, let phdrs = f.programHeaders() else { return nil }
        let type: ELFInfo.FileType
        switch etype {
        case 1: type = .relocatable
        case 2: type = .executable
        case 3: type = .sharedObject
        case 4: type = .core
        default: type = .other(etype)
        }
        var info = ELFInfo(is64Bit: f.is64Bit, littleEndian: f.littleEndian, type: type, machine: machine,
                           interpreter: nil, needed: [], soname: nil, isDynamic: false)
        // PT_INTERP = 3; without a terminating NUL inside the segment, take it all.
        if let interp = phdrs.first(where: { $0.type == 3 }), let r = b.range(interp.offset, interp.filesz) {
            info.interpreter = b.cString(r.lowerBound, end: r.upperBound) ?? String(decoding: b.bytes[r], as: UTF8.self)
        }
        // PT_DYNAMIC = 2
        guard let dyn = phdrs.first(where: { $0.type == 2 }) else { return info }
        info.isDynamic = true
        guard let dynRange = b.range(dyn.offset, dyn.filesz) else { return info }
        let entSize = f.is64Bit ? 16 : 8
        var needed: [Int] = [], soname: Int?, strtab: Int?, strsz: Int?, rpath: Int?, runpath: Int?
        var o = dynRange.lowerBound
        while o + entSize <= dynRange.upperBound {
            guard let tag = f.signedWord(o), let val = f.word(o + entSize / 2) else { break }
            if tag == 0 { break }                      // DT_NULL
            switch tag {
            case 1: needed.append(val)                 // DT_NEEDED
            case 5: strtab = val                       // DT_STRTAB (address)
            case 10: strsz = val                       // DT_STRSZ
            case 14: soname = val                      // DT_SONAME
            case 15: rpath = val                       // DT_RPATH
            case 29: runpath = val                     // DT_RUNPATH
            default: break
            }
            o += entSize
        }
        guard let strtab, let strOff = fileOffset(ofAddress: strtab, phdrs: phdrs, type: type), strOff < b.count else { return info }
        var limit = b.count
        if let strsz, strsz > 0, let e = ByteReader.add(strOff, strsz) { limit = min(limit, e) }
        func str(_ idx: Int) -> String? {
            guard idx >= 0, let p = ByteReader.add(strOff, idx) else { return nil }
            return b.cString(p, end: limit)
        }
        info.needed = needed.compactMap(str)
        if let soname { info.soname = str(soname) }
        if let rpath { info.rpath = str(rpath) }
        if let runpath { info.runpath = str(runpath) }
        return info
    }

    /// Maps the string table's virtual address to a file offset through the `PT_LOAD` segments
    /// (relocatable objects and objects without `PT_LOAD` use the address as the offset).
    func fileOffset(ofAddress a: Int, phdrs: [ELFFile.ProgramHeader], type: ELFInfo.FileType) -> Int? {
        for p in phdrs where p.type == 1 && a >= p.vaddr && a - p.vaddr < p.filesz {
            return ByteReader.add(p.offset, a - p.vaddr)
        }
        if type == .relocatable || phdrs.allSatisfy({ $0.type != 1 }) { return a >= 0 ? a : nil }
        return nil
    }
}
