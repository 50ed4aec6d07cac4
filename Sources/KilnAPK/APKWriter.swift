import Foundation
import KilnArchive
import KilnCore
import KilnCrypto

/// Writes APK v2 packages (apk-format.md §1.1-1.5):
/// `gzip(signature tar fragment) || gzip(control tar fragment) || gzip(data tar)`.
public enum APKWriter {
    public struct Output: Sendable {
        public var path: String
        public var info: PkgInfo
        /// APKINDEX `C:`.
        public var checksum: String
        public var fileSize: Int
        /// The SBOM written into the package.
        public var sbom: Data
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { TarEntry.pathPrecedes(a, b) }

    /// Tar bytes of `entries` in the given order (or sorted, per `options`).
    static func tar(_ entries: [TarEntry], options: TarWriterOptions) throws -> Data {
        let sink = DataSink()
        let w = try TarWriter(sink: sink, options: options)
        for e in entries { try w.write(e) }
        try w.finish()
        return sink.data
    }

    /// A gzip'd tar fragment holding `.SIGN.RSA256.<key>` over `signed`, without end-of-archive blocks.
    public static func signatureMember(signing signed: Data, signer: APKSigner, epoch: Int64) throws -> Data {
        let sig = Data(try signer.key.sign(signed, digest: .sha256))
        var e = TarEntry(path: signer.signatureEntryName, kind: .file, mode: 0o644, content: .data(sig), size: Int64(sig.count))
        e.mtime = epoch
        var opts = TarWriterOptions(epoch: epoch)
        opts.endOfArchive = false
        opts.sortEntries = false
        let tar = try tar([e], options: opts)
        if let z = APKTarStream.zeroBlocks(tar).first {
            throw APKError.io("internal: signature tar has an all-zero block at \(z)")
        }
        return try Gzip.compress(tar, level: 9)
    }

    /// The final depends/provides: declared + scanned, unique, byte-sorted; depends the package
    /// provides itself (or on itself) are dropped.
    static func resolveDependencies(_ spec: PackageSpec, scanned: DependencyScanner.Result) -> (depends: [String], provides: [String]) {
        var provides = Set(spec.dependencies.provides)
        if !spec.options.noProvides { provides.formUnion(scanned.provides) }
        var depends = Set(spec.dependencies.runtime)
        if !spec.options.noDepends {
            let own = Set(provides.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") } + [spec.name])
            depends.formUnion(scanned.depends.filter { !own.contains($0) })
        }
        return (depends.sorted(by: byteOrder), provides.sorted(by: byteOrder))
    }

    /// Builds the package for `spec` from the tree at `root` and writes it atomically to `path`.
    /// `signer` nil writes an unsigned package (2 members).
    @discardableResult
    public static func write(spec: PackageSpec, root: String, to path: String, signer: APKSigner?) throws -> Output {
        // The data member streams to a temporary file (memory stays small for big packages), then
        // signature + control + data are written to a temporary name and renamed into place.
        let dataTmp = AtomicFile.temporaryPath(for: path) + ".data"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        defer { unlink(dataTmp) }
        let fileSink = try FileSink(path: dataTmp)
        let made = try produce(spec: spec, root: root, signer: signer, dataSink: fileSink)
        let size = try AtomicFile.produce(path) { tmp -> Int in
            let out = try FileSink(path: tmp)
            try out.write(made.head)
            guard let input = FileHandle(forReadingAtPath: dataTmp) else { throw APKError.io("cannot read \(dataTmp)") }
            defer { try? input.close() }
            var total = made.head.count
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                try out.write(chunk); total += chunk.count
            }
            try out.close()
            return total
        }
        return Output(path: path, info: made.info, checksum: made.checksum, fileSize: size, sbom: made.sbom)
    }

    /// Writes into a repository: `<repo>/<arch>/<name>-<version>-r<epoch>.apk`.
    @discardableResult
    public static func write(spec: PackageSpec, root: String, repository: String, signer: APKSigner?) throws -> Output {
        try write(spec: spec, root: root, to: "\(repository)/\(spec.arch)/\(spec.fileName)", signer: signer)
    }

    /// The package bytes (for tests and callers that place the file themselves).
    public static func build(spec: PackageSpec, root: String, signer: APKSigner?) throws -> (data: Data, info: PkgInfo, checksum: String, sbom: Data) {
        let sink = DataSink()
        let made = try produce(spec: spec, root: root, signer: signer, dataSink: sink)
        return (made.head + sink.data, made.info, made.checksum, made.sbom)
    }

    /// Writes the data member into `dataSink` (closed at the end) and returns the bytes that go
    /// before it: signature member (if signed) + control member.
    static func produce(spec: PackageSpec, root: String, signer: APKSigner?, dataSink: ByteSink) throws
        -> (head: Data, info: PkgInfo, checksum: String, sbom: Data) {
        try spec.validate()
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw APKError.io("package \(spec.name): tree \(root) is not a directory")
        }
        let epoch = spec.buildDate
        var entries = try TreeScanner.entries(root: root)   // the one directory walker (KilnArchive)
        for e in entries {
            if !e.path.contains("/") && e.path.hasPrefix(".") {
                throw APKError.invalidSpec("package \(spec.name): \(root)/\(e.path): top-level names starting with `.` are not allowed (apk would read them as control data)")
            }
            if e.path == spec.sbomPath {
                throw APKError.invalidSpec("package \(spec.name): \(root)/\(e.path) exists; kiln writes the package SBOM there itself")
            }
        }
        // Automatic dependencies.
        let scanFiles: [DependencyScanner.File] = entries.map { e in
            let kind: DependencyScanner.File.Kind
            switch e.kind {
            case .file: kind = .regular
            case .symlink(let t): kind = .symlink(t)
            case .directory: kind = .directory
            case .hardlink: kind = .other
            }
            return .init(path: e.path, kind: kind, mode: e.mode, diskPath: root + "/" + e.path)
        }
        let scanned = DependencyScanner.scan(scanFiles, fullVersion: spec.fullVersion, options: spec.options)
        let (depends, provides) = resolveDependencies(spec, scanned: scanned)

        // Checksums, owners, times.
        var listing = ""
        for i in entries.indices {
            var e = entries[i]
            e.mtime = epoch
            if let o = spec.owners[e.path] {
                e.uid = o.uid; e.gid = o.gid; e.uname = o.uname; e.gname = o.gname
            } else {
                e.uid = 0; e.gid = 0; e.uname = "root"; e.gname = "root"
            }
            e.pax["APK-TOOLS.checksum.SHA1"] = nil
            switch e.kind {
            case .file:
                let sha1: String
                switch e.content {
                case .file(let p): sha1 = try Digest.hashFile(.sha1, path: p).hexString
                case .data(let d): sha1 = try Digest.hash(.sha1, d).hexString
                case .none: sha1 = try Digest.hash(.sha1, Data()).hexString
                }
                e.pax["APK-TOOLS.checksum.SHA1"] = sha1
                listing += "f \(e.path) \(String(e.mode, radix: 8)) \(e.size) \(sha1)\n"
            case .symlink(let t):
                let sha1 = try Digest.hash(.sha1, Data(t.utf8)).hexString
                e.pax["APK-TOOLS.checksum.SHA1"] = sha1
                listing += "l \(e.path) \(t)\n"
            case .hardlink(let t):
                listing += "h \(e.path) \(t)\n"
            case .directory:
                listing += "d \(e.path) \(String(e.mode, radix: 8))\n"
            }
            entries[i] = e
        }

        // SBOM (its namespace is derived from the file list and the package metadata).
        let specJSON = try JSONEncoder.sortedKeys.encode(spec)
        let contentDigest = try Digest.sha256Hex(Data(listing.utf8) + specJSON + Data((depends + provides).joined(separator: "\n").utf8))
        let sbom = try PackageSBOM.document(for: spec, contentDigest: contentDigest)
        let existing = Set(entries.map(\.path))
        var dir = ""
        for comp in spec.sbomPath.split(separator: "/").dropLast() {
            dir = dir.isEmpty ? String(comp) : dir + "/" + comp
            if !existing.contains(dir) {
                var d = TarEntry(path: dir, kind: .directory, mode: 0o755)
                d.mtime = epoch
                entries.append(d)
            }
        }
        var sbomEntry = TarEntry(path: spec.sbomPath, kind: .file, mode: 0o644, content: .data(sbom), size: Int64(sbom.count))
        sbomEntry.mtime = epoch
        sbomEntry.pax["APK-TOOLS.checksum.SHA1"] = try Digest.hash(.sha1, sbom).hexString
        entries.append(sbomEntry)
        entries.sort { byteOrder($0.path, $1.path) }

        // Installed size: regular files, each inode once (hardlinks are separate entries).
        var installed: Int64 = 0
        for e in entries { if case .file = e.kind { installed += e.size } }
        if installed == 0 { installed = 1 }   // 0 would make apk 2.x treat it as a virtual package

        // Data member: one gzip member, complete tar.
        var dataOpts = TarWriterOptions(epoch: epoch)
        dataOpts.endOfArchive = true
        dataOpts.sortEntries = true
        let digesting = try DigestingSink(dataSink, algorithms: [.sha256])
        let gzip = try GzipSink(digesting, level: 9)
        let dataWriter = try TarWriter(sink: gzip, options: dataOpts)
        for e in entries { try dataWriter.write(e) }
        try dataWriter.finish()
        try gzip.close()     // finishes the gzip member and closes the sink chain
        let datahash = try digesting.digest(.sha256).hexString

        // .PKGINFO
        var info = PkgInfo()
        info.pkgname = spec.name
        info.pkgver = spec.fullVersion
        info.pkgdesc = PackageSBOM.oneLine(spec.description)
        info.url = spec.url
        info.builddate = epoch
        info.size = installed
        info.arch = spec.arch
        info.origin = spec.origin ?? spec.name
        info.commit = spec.commit
        info.maintainer = spec.maintainer
        info.license = spec.license
        info.depends = depends
        info.provides = provides
        info.installIf = spec.installIf
        info.providerPriority = spec.dependencies.providerPriority
        info.replaces = spec.dependencies.replaces
        info.replacesPriority = spec.dependencies.replacesPriority
        info.triggers = spec.scriptlets.triggerPaths
        info.datahash = datahash
        let pkginfo = Data(info.render(generator: "kiln \(KilnVersion.current)").utf8)

        // Control member: .PKGINFO first, then scripts; no end-of-archive blocks.
        var controlEntries: [TarEntry] = []
        var pe = TarEntry(path: ".PKGINFO", kind: .file, mode: 0o644, content: .data(pkginfo), size: Int64(pkginfo.count))
        pe.mtime = epoch
        controlEntries.append(pe)
        for (name, script) in spec.scriptlets.members {
            let d = Data(script.utf8)
            var se = TarEntry(path: name, kind: .file, mode: 0o755, content: .data(d), size: Int64(d.count))
            se.mtime = epoch
            controlEntries.append(se)
        }
        var ctlOpts = TarWriterOptions(epoch: epoch)
        ctlOpts.endOfArchive = false
        ctlOpts.sortEntries = false
        let controlTar = try tar(controlEntries, options: ctlOpts)
        if let z = APKTarStream.zeroBlocks(controlTar).first {
            throw APKError.invalidSpec("package \(spec.name): a scriptlet contains 512 zero bytes at control offset \(z); apk would stop reading there")
        }
        let controlMember = try Gzip.compress(controlTar, level: 9)
        let checksum = "Q1" + (try Digest.hash(.sha1, controlMember)).base64String

        var head = Data()
        if let signer { head += try signatureMember(signing: controlMember, signer: signer, epoch: epoch) }
        head += controlMember
        return (head, info, checksum, sbom)
    }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
