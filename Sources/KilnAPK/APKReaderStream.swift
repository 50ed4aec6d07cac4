import Foundation
import KilnArchive
import KilnCrypto

extension APKReader {
    /// Reads and verifies the package at `path`, keeping file contents in `entries[].data`.
    public static func read(path: String, options: APKVerifyOptions) throws -> APKPackage {
        try read(path: path, options: options, keepFileData: true, onData: nil)
    }

    /// Reads and verifies the package at `path`, streaming: the file is read once, sequentially,
    /// and only the signature and control members are held in memory. With `keepFileData: false`
    /// file contents are not kept; `onData` sees each data entry and its contents as they are
    /// inflated (before the data hash is compared — a caller must discard what it made from them
    /// when this throws).
    public static func read(path: String, options: APKVerifyOptions, keepFileData: Bool,
                            onData: ((TarStreamEvent) throws -> Void)?) throws -> APKPackage {
        let reader: GzipMemberReader
        do { reader = try GzipMemberReader(path: path) } catch { throw APKError.io("cannot read \(path): \(error)") }
        return try read(reader, file: path, options: options, keepFileData: keepFileData, onData: onData)
    }

    /// Reads and verifies a package in memory (the same checks and errors as `read(path:)`).
    public static func read(data: Data, file: String, options: APKVerifyOptions) throws -> APKPackage {
        try read(GzipMemberReader(data: data), file: file, options: options, keepFileData: true, onData: nil)
    }

    /// One member into memory (signature, control), capped at `maxControlMemberBytes`.
    static func smallMember(_ r: GzipMemberReader, file: String, member: String, options: APKVerifyOptions,
                            fileHash: DigestStream) throws -> (compressed: Data, inflated: Data) {
        var compressed = Data(), inflated = Data()
        let cap = min(options.maxControlMemberBytes, options.maxInflatedMemberBytes)
        do {
            try r.nextMember(limit: nil, compressed: { fileHash.update($0); compressed.append(contentsOf: $0) }) {
                guard inflated.count + $0.count <= cap else {
                    throw APKError.malformed(file: file, "\(member) member inflates to more than \(cap) bytes (the decompression limit for signature and control members; see KILN_MAX_CONTROL_BYTES and KILN_MAX_INFLATED_BYTES)")
                }
                inflated.append(contentsOf: $0)
            }
        } catch let e as APKError { throw e } catch {
            throw APKError.malformed(file: file, "not a (multi-member) gzip stream: \(error)")
        }
        return (compressed, inflated)
    }

    static func read(_ r: GzipMemberReader, file: String, options: APKVerifyOptions, keepFileData: Bool,
                     onData: ((TarStreamEvent) throws -> Void)?) throws -> APKPackage {
        let fileHash = try DigestStream(.sha256)
        func atEnd() throws -> Bool {
            do { return try r.atEnd() } catch { throw APKError.io("cannot read \(file): \(error)") }
        }
        if try atEnd() { throw APKError.malformed(file: file, "not a (multi-member) gzip stream: empty file") }
        var ranges: [Range<Int>] = [0..<0]
        // Signature member?
        var sigs: [APKPackage.Signature] = []
        var (controlBytes, controlTar) = try smallMember(r, file: file, member: "first", options: options, fileHash: fileHash)
        ranges[0] = 0..<r.offset
        if try atEnd() { throw APKError.malformed(file: file, "expected 2 or 3 gzip members (signature, control, data), found 1") }
        if controlTar.count >= 512, APKTarStream.str(controlTar[0..<100]).hasPrefix(".SIGN.") {
            sigs = try parseSignatureMember(controlTar, file: file)
            let start = r.offset
            (controlBytes, controlTar) = try smallMember(r, file: file, member: "control", options: options, fileHash: fileHash)
            ranges.append(start..<r.offset)
            if try atEnd() { throw APKError.malformed(file: file, "missing control or data member") }
        }
        // Control member.
        if let z = APKTarStream.zeroBlocks(controlTar).first {
            throw APKError.malformed(file: file, "control member contains an all-zero 512-byte block at offset \(z) (apk stops reading there)")
        }
        let control = try APKTarStream.parse(controlTar, file: file, member: "control")
        guard let pk = control.entries.first, pk.path == ".PKGINFO", pk.kind == .file else {
            throw APKError.malformed(file: file, "the control member must start with .PKGINFO")
        }
        var scripts: [String: Data] = [:]
        for e in control.entries.dropFirst() {
            guard e.path.hasPrefix("."), !e.path.contains("/") else {
                throw APKError.malformed(file: file, "control member entry \(e.path) is not a top-level dotfile")
            }
            if e.path == ".PKGINFO" { throw APKError.malformed(file: file, "two .PKGINFO entries") }
            scripts[e.path] = e.data
        }
        // Signature over the compressed control member, before any data is read.
        let trusted: String?
        if sigs.isEmpty {
            guard options.allowUntrusted else { throw APKError.untrusted(file: file, signatures: []) }
            trusted = nil
        } else {
            trusted = try verifySignatures(sigs, signed: controlBytes, file: file, options: options)
        }
        guard let pkginfoText = String(data: pk.data, encoding: .utf8) else {
            throw APKError.malformed(file: file, ".PKGINFO is not UTF-8")
        }
        let info = try PkgInfo.parse(pkginfoText, file: file)
        guard let expected = info.datahash else {
            throw APKError.malformed(file: file, ".PKGINFO has no datahash (kiln only accepts packages with a data hash)")
        }
        // Data member, streamed: compressed bytes → SHA-256 (datahash); inflated → tar scanner →
        // per-file SHA-1 and the caller. Tar errors wait until the member count and data hash are
        // known, so a tampered package is reported as tampered, as when the whole file was in memory.
        let data = try DataMemberScan(file: file, keepFileData: keepFileData, checkFileChecksums: options.checkFileChecksums, onData: onData)
        let dataHashStream = try DigestStream(.sha256)
        let dataStart = r.offset
        do {
            try r.nextMember(limit: options.maxInflatedMemberBytes, compressed: { fileHash.update($0); dataHashStream.update($0) }) {
                data.feed($0)
            }
        } catch { throw APKError.malformed(file: file, "not a (multi-member) gzip stream: \(error)") }
        ranges.append(dataStart..<r.offset)
        var extra = 0
        while try !atEnd() {
            do { try r.nextMember(limit: options.maxInflatedMemberBytes, compressed: { fileHash.update($0) }) { _ in } } catch {
                throw APKError.malformed(file: file, "not a (multi-member) gzip stream: \(error)")
            }
            extra += 1
        }
        if extra > 0 {
            throw APKError.malformed(file: file, "the data must be exactly one gzip member, found \(extra + 1) (apk-tools 3 drops extra data parts)")
        }
        let dataHash = try dataHashStream.finalize().hexString
        guard expected.lowercased() == dataHash else {
            throw APKError.dataHashMismatch(file: file, expected: expected, actual: dataHash)
        }
        let entries = try data.finish()
        if let firstData = entries.first, firstData.path.hasPrefix("."), !firstData.path.contains("/") {
            throw APKError.malformed(file: file, "data member starts with \(firstData.path), which apk would take as control data")
        }
        try APKEntryPolicy.check(entries, file: file, allowAbsoluteSymlinks: options.allowAbsoluteSymlinks)
        try data.checkChecksums(entries)
        let q1 = "Q1" + (try Digest.hash(.sha1, controlBytes)).base64String
        return APKPackage(file: file, fileSize: r.offset, info: info, pkginfoText: pkginfoText, signatures: sigs,
                          trustedKey: trusted, checksum: q1, dataHash: dataHash, scripts: scripts,
                          entries: entries, memberRanges: ranges, fileSHA256: try fileHash.finalize().hexString)
    }
}

/// The data member's tar as it streams: entries, each regular file's SHA-1, and the caller's
/// handler; the first error is kept for `finish()` (bytes after it are only hashed).
final class DataMemberScan {
    let file: String
    let checkFileChecksums: Bool
    private var scanner: TarStreamScanner!
    private var error: Error?
    private var sha1: DigestStream?
    /// SHA-1 of each regular file's contents, by entry index.
    private(set) var fileSHA1: [Int: String] = [:]
    private var current = -1

    init(file: String, keepFileData: Bool, checkFileChecksums: Bool, onData: ((TarStreamEvent) throws -> Void)?) throws {
        self.file = file
        self.checkFileChecksums = checkFileChecksums
        scanner = TarStreamScanner(context: "data", dialect: .apk, keepFileData: keepFileData) { [unowned self] ev in
            switch ev {
            case .entry(let e):
                self.current += 1
                self.sha1 = e.kind == .file && checkFileChecksums ? try DigestStream(.sha1) : nil
            case .data(let b): self.sha1?.update(b)
            case .end:
                if let s = self.sha1 { self.fileSHA1[self.current] = try s.finalize().hexString; self.sha1 = nil }
            }
            try onData?(ev)
        }
    }

    func feed(_ bytes: UnsafeRawBufferPointer) {
        guard error == nil else { return }
        do { try scanner.feed(bytes) } catch { self.error = error }
    }

    /// The entries, or the first error (tar errors become `APKError.malformed` naming the file).
    func finish() throws -> [APKTarEntry] {
        do {
            if let error { throw error }
            let r = try scanner.finish()
            guard r.sawEndOfArchive else {
                throw APKError.malformed(file: file, "data member does not end with the tar end-of-archive blocks")
            }
            return r.entries
        } catch let e as ArchiveError {
            guard case let .corrupt(context, reason) = e else { throw e }
            throw APKError.malformed(file: file, "\(context): \(reason)")
        }
    }

    /// Every regular file's and symlink's `APK-TOOLS.checksum.SHA1` against its contents.
    func checkChecksums(_ entries: [APKTarEntry]) throws {
        guard checkFileChecksums else { return }
        for (i, e) in entries.enumerated() {
            let actual: String
            switch e.kind {
            case .file: actual = fileSHA1[i] ?? ""
            case .symlink: actual = try Digest.hash(.sha1, Data((e.linkTarget ?? "").utf8)).hexString
            default: continue
            }
            guard let c = e.pax["APK-TOOLS.checksum.SHA1"] else { throw APKError.missingChecksum(file: file, entry: e.path) }
            guard c.lowercased() == actual else {
                throw APKError.checksumMismatch(file: file, entry: e.path, expected: c, actual: actual)
            }
        }
    }
}
