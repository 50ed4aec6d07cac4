import ArgumentParser
import Foundation
import KilnAttest
import KilnAudit
import KilnCore
import KilnCrypto
import KilnFIPS
import KilnImage

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Assemble an apko-style image config into an OCI layout (standard and FIPS variants).",
        discussion: "Prints one line per variant: TAG MANIFEST-DIGEST. A rerun with the same inputs (the config and its includes, the trusted keys, each repository's APKINDEX, the options, the signing key and FIPS module, and the kiln executable, all by content) leaves the layout alone and says so, after checking that its index.json, blobs and SBOM files are still the bytes the last successful run recorded in LAYOUT/.kiln-image.json; anything else rebuilds it.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var fipsRegistry: FIPSRegistryOption

    @Argument(help: "Image config (apko dialect), e.g. recipes/images/hello.yaml.")
    var config: String

    @Option(name: .long, help: "Repository directory to install from (repeatable; replaces contents.repositories).")
    var repo: [String] = []

    @OptionGroup var keyring: KeyringOption

    @Option(name: .long, help: "Output OCI layout directory (default: out/images/<name>).")
    var out: String?

    @Option(name: .long, help: "standard, fips or all.")
    var variant: String = "all"

    @Option(name: .long, help: "Build exactly the packages pinned in this lock file (from `kiln lock`).")
    var lock: String?

    @Option(name: .long, help: "Timestamp for files and `created` (default: $SOURCE_DATE_EPOCH, else the newest package builddate).")
    var sourceDateEpoch: Int64?

    @Option(name: .long, help: "Compression threads (0 = one per core; output bytes do not depend on it).")
    var threads: Int = 0

    @Option(name: .long, help: "Sign each variant and attach its SBOM and SLSA provenance with this ECDSA P-256 key (as `kiln sign` does).")
    var signKey: String?

    @Option(name: .long, help: "With --sign-key: SBOM formats to attach and write (spdx, cyclonedx or both).")
    var sbomFormat: String = "both"

    @Option(name: .long, help: "Where `include:` is looked for after the working directory and the config's directory (repeatable; apko's include paths).")
    var includePath: [String] = []

    func run() throws {
        // Fail on a bad key or format before building anything.
        let signer = try signKey.map { try SigningKeys.loadPrivate(path: $0) }
        guard let format = SBOMFormat(rawValue: sbomFormat) else {
            throw KilnMessage("--sbom-format \(sbomFormat): expected spdx, cyclonedx or both")
        }
        let started = Int64(Date().timeIntervalSince1970)
        let cfg = try ImageConfig.load(path: config, includePaths: includePath)
        for w in cfg.warnings { FileHandle.standardError.write(Data("kiln: warning: \(w)\n".utf8)) }
        var opts = ImageBuildOptions()
        opts.repositories = repo.isEmpty ? nil : repo
        opts.extraKeys = keyring.keyring   // files and directories (added to contents.keyring)
        switch variant {
        case "all": opts.variants = ImageVariant.allCases
        case "standard": opts.variants = [.standard]
        case "fips": opts.variants = [.fips]
        default: throw KilnMessage("--variant must be standard, fips or all (got '\(variant)')")
        }
        if let lock { opts.lock = try LockFile.load(path: lock) }
        opts.sourceDateEpoch = sourceDateEpoch
        opts.threads = threads
        let dest = out ?? "out/images/\(cfg.imageName)"
        // Incremental: unchanged inputs (content, not mtimes) and an untouched layout are reused as they are.
        var extra: [String: String] = [:]
        if let signer {
            extra["sign-key"] = try SigningKeys.keyID(signer.publicKey)
            extra["sbom-format"] = sbomFormat
            extra["config-name"] = config
            extra["fips-registry"] = (try? Digest.hashFile(.sha256, path: fipsRegistry.path).hexString) ?? "missing"
            extra["signer-fips-module"] = try ActiveFIPSModule.current()?.description ?? "none"
        }
        let reuse = try ImageReuse(config: cfg, options: opts, layout: dest, extra: extra)
        let (record, reason) = try reuse.reusable()
        if let record {
            print("\(dest): \(reason): images built from APKINDEX sha256 \(reuse.apkindex?.prefix(16) ?? "-") "
                  + "(inputs sha256 \(try reuse.key.prefix(16))); reused, not rebuilt or re-signed")
            fflush(nil)   // the notice before the replayed stderr lines
            for l in record.stderr { Progress.shared.log(l) }
            for l in record.stdout { print(l) }
            return
        }
        Progress.shared.log("\(dest): building (\(reason))")
        reuse.forget()
        var stdout: [String] = [], stderr: [String] = [], files: [String] = []
        func say(_ l: String) { print(l); stdout.append(l) }
        func log(_ l: String) { Progress.shared.log(l); stderr.append(l) }
        let builder = ImageBuilder(config: cfg, options: opts)
        builder.progress = Progress.shared
        let results = try builder.build(out: dest)
        Progress.shared.log("wrote \(dest)")   // not replayed on reuse: a reused run writes nothing
        for r in results { say("\(r.tag) \(r.manifest.digest)") }
        guard let signer else { return try reuse.record(files: files, stdout: stdout, stderr: stderr) }
        let finished = Int64(Date().timeIntervalSince1970)
        let configSHA256 = try Digest.hashFile(.sha256, path: config).hexString
        var apkDigests: [String: String] = [:]   // .apk location -> sha256 (a package shared by variants is hashed once)
        for r in results {
            var o = AttachOptions()
            o.tag = r.tag
            o.imageName = cfg.imageName
            o.variant = r.variant.rawValue
            o.sbomFormat = format
            o.sbomDirectory = URL(fileURLWithPath: dest).standardizedFileURL.path + "-sbom"
            o.configName = config
            o.configSHA256 = configSHA256
            o.startedOn = started
            o.finishedOn = finished
            o.lockedPackages = try r.packages.map { p in
                var sha: String?
                if !p.location.isEmpty {
                    if apkDigests[p.location] == nil { apkDigests[p.location] = try Digest.hashFile(.sha256, path: p.location).hexString }
                    sha = apkDigests[p.location]
                }
                return ResolvedPackage(name: p.name, version: p.version, arch: p.arch, sha256: sha, checksum: p.checksum)
            }
            let a = try Attestor.attach(layout: dest, manifestDigest: r.manifest.digest, options: o, key: signer)
            let audit = try BoundaryAttestation.attach(layout: dest, manifestDigest: r.manifest.digest, name: r.tag, key: signer,
                                                       registryPath: fipsRegistry.path)
            files += a.writtenFiles
            log("fips boundary \(r.tag): \(audit.verdict)" + (audit.passed ? "" : " (`kiln audit` lists the findings)"))
            log("signed \(r.tag): \(a.signatureTag ?? "-"), \(a.attestationTag ?? "-")")
        }
        try reuse.record(files: files, stdout: stdout, stderr: stderr)
    }
}
